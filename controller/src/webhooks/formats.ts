import type { Notice } from "../integrations/notices";
import type { WebhookFormat } from "../database/entities/webhook.entities";

export interface Rendered {
  body: string;
}

interface Target {
  format: WebhookFormat;
  routingKey: string | null;
}

const str = (v: unknown): string => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));

/** One line a human reads first: in a Slack channel, as a PagerDuty incident title. */
export function summaryOf(n: Notice): string {
  const d = n.data;
  switch (n.type) {
    case "alert.created":
      return `Alert (score ${str(d.score)}): ${str(d.ruleTitle)} on ${str(d.hostname) || str(d.agentId)}`;
    case "notify": {
      const a = (d.alert ?? {}) as Record<string, unknown>;
      const msg = str((d.params as Record<string, unknown> | undefined)?.message);
      return `${msg || "Playbook notification"}: ${str(a.ruleTitle)} (score ${str(a.score)})`;
    }
    case "webhook.test":
      return "Vigil test delivery";
    default:
      if (n.topic === "cases") return `Case ${n.type.slice(5)} (score ${str(d.score)}): ${str(d.title)}`;
      if (n.topic === "commands") return `Command ${str(d.type)} on ${str(d.agentId)}: ${str(d.state)}`;
      if (n.topic === "agents") return `Agent ${str(d.agentId)} is ${d.online ? "online" : "offline"}`;
      return n.type;
  }
}

export function render(t: Target, n: Notice, deliveryId: number): Rendered {
  switch (t.format) {
    case "slack":
      return { body: JSON.stringify(slack(n)) };
    case "pagerduty":
      return { body: JSON.stringify(pagerDuty(t.routingKey ?? "", n)) };
    default:
      return { body: JSON.stringify({ id: String(deliveryId), type: n.type, topic: n.topic, time: new Date(n.time).toISOString(), data: n.data }) };
  }
}

/** Slack mrkdwn treats &, < and > as markup. */
function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** An incoming-webhook message: `text` is the notification fallback, blocks the layout. */
function slack(n: Notice): Record<string, unknown> {
  const d = n.data;
  const alert = (n.type === "notify" ? d.alert : d) as Record<string, unknown>;
  const facts = [
    alert.caseId ? `case \`${esc(str(alert.caseId))}\`` : n.topic === "cases" ? `case \`${esc(str(d.id))}\`` : "",
    alert.agentId ? `agent \`${esc(str(alert.agentId))}\`` : "",
    Array.isArray(alert.tags) && alert.tags.length ? `tags ${esc(alert.tags.join(", "))}` : "",
  ].filter(Boolean);
  const text = `[Vigil] ${summaryOf(n)}`;
  return {
    text: esc(text),
    blocks: [{ type: "section", text: { type: "mrkdwn", text: `*${esc(text)}*` } }, ...(facts.length ? [{ type: "context", elements: [{ type: "mrkdwn", text: facts.join(" · ") }] }] : [])],
  };
}

function severity(score: number): "critical" | "error" | "warning" | "info" {
  return score >= 90 ? "critical" : score >= 70 ? "error" : score >= 40 ? "warning" : "info";
}

/**
 * PagerDuty Events API v2. The dedup key is the case id, so every alert of one case lands on one
 * incident, and acknowledging or resolving the case acknowledges or resolves the incident.
 */
function pagerDuty(routingKey: string, n: Notice): Record<string, unknown> {
  const d = n.data;
  const alert = (n.type === "notify" ? d.alert : d) as Record<string, unknown>;
  const caseId = n.topic === "cases" ? str(d.id) : str(alert.caseId);
  const dedupKey = caseId || str(alert.id) || `vigil-${n.type}`;
  if (n.type === "case.resolved" || n.type === "case.acknowledged") {
    return { routing_key: routingKey, event_action: n.type === "case.resolved" ? "resolve" : "acknowledge", dedup_key: dedupKey };
  }
  const score = typeof alert.score === "number" ? alert.score : typeof d.score === "number" ? d.score : 0;
  return {
    routing_key: routingKey,
    event_action: "trigger",
    dedup_key: dedupKey,
    client: "Vigil EDR",
    payload: {
      summary: summaryOf(n).slice(0, 1024),
      source: str(alert.hostname) || str(alert.agentId) || "vigil-controller",
      severity: severity(score),
      timestamp: new Date(n.time).toISOString(),
      component: str(alert.agentId) || undefined,
      class: str(alert.ruleId) || n.type,
      custom_details: d,
    },
  };
}
