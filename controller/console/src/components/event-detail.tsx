import type { TelemetryEvent } from "../api/types";
import { fieldsOf, labelOf } from "../lib/event-view";
import { hostLabel } from "../lib/hosts";
import { href } from "../lib/router";
import { HostName } from "./host-name";
import { Time } from "./time";

/** Around one moment on one host: the link from an event (or an alert) to the events beside it. */
export function aroundHref(agentId: string, fromMs: number, toMs: number, padMs: number): string {
  return href(["events"], { agent: agentId, since: new Date(fromMs - padMs).toISOString(), until: new Date(toMs + padMs).toISOString() });
}

/**
 * Every field of one event, labelled: where it came from (host, sequence, times) and then the
 * body in wire order. Long values (command lines, raw records) take the full width and wrap.
 */
export function EventDetail({ event: e, labels }: { event: TelemetryEvent; labels: ReadonlyMap<string, string> }) {
  const fields = fieldsOf(e);
  const hostname = hostLabel(labels, e.agentId);
  const t = Date.parse(e.eventTime);
  return (
    <div class="event-detail" data-event={`${e.agentId}:${e.seq}`}>
      <dl class="fields">
        <div class="field-row">
          <dt>Host</dt>
          <dd>
            <HostName id={e.agentId} labels={labels} /> <span class="muted small">({e.agentId})</span>
          </dd>
        </div>
        <div class="field-row">
          <dt>Kind</dt>
          <dd>
            {e.type} · {e.action}
          </dd>
        </div>
        <div class="field-row">
          <dt>Event time</dt>
          <dd>
            <Time at={e.eventTime} /> <span class="muted small">{e.eventTime}</span>
          </dd>
        </div>
        <div class="field-row">
          <dt>Received</dt>
          <dd>
            <Time at={e.receivedAt} />
          </dd>
        </div>
        {e.reportedTime && (
          <div class="field-row">
            <dt>Host clock said</dt>
            <dd class="warn">
              {e.reportedTime} (off by {Math.round((e.clockSkewMs ?? 0) / 1000)} s; the receive time is used)
            </dd>
          </div>
        )}
        <div class="field-row">
          <dt title="the agent's sequence number: with the host, the event's key">Sequence</dt>
          <dd>{e.seq}</dd>
        </div>
        {fields.map((f) => (
          <div key={f.key} class={`field-row${f.long ? " long" : ""}`}>
            <dt title={f.key}>{f.label || labelOf(f.key)}</dt>
            <dd class="value">{f.value}</dd>
          </div>
        ))}
      </dl>
      <a class="small" href={aroundHref(e.agentId, t, t, 5 * 60_000)}>
        Events on {hostname} within 5 minutes of this one
      </a>
    </div>
  );
}
