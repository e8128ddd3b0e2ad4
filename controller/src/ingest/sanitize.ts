import { MAX_AUDIT_RECORDS, MAX_EVENTS_PER_BATCH, MAX_PATH_BYTES, MAX_STRING_FIELD_BYTES, redactVigilSecrets, type Event, type EventBatch } from "@vigil/proto";

export class BatchRejected extends Error {}

/** How many fields were clipped or cleaned, for the ingest metrics. */
export interface SanitizeReport {
  clipped: number;
  /** Strings in which a Vigil token or API key was replaced by [REDACTED]. */
  redacted: number;
  /** Events whose time was too far from the receive time and was replaced by it. */
  skewed: number;
}

const PATH_FIELDS = new Set(["exe", "cwd", "parentExe", "path", "oldPath", "cgroupPath"]);
/**
 * Where a process runs (process, file, network and DNS events): names the host chooses (whoever may
 * create a cgroup names it), bounded to what the real ones can be: a container id is 64 hex digits,
 * a pod UID 36 characters, a systemd unit a file name (NAME_MAX). cgroupPath is a path (above).
 */
const PLACE_FIELD_BYTES: ReadonlyMap<string, number> = new Map([
  ["containerId", 128],
  ["containerRuntime", 32],
  ["podUid", 64],
  ["systemdUnit", 255],
]);
/** The shortest of those bounds: a string no longer than it needs no look-up. */
const MIN_PLACE_BYTES = Math.min(...PLACE_FIELD_BYTES.values());
/** Strings kept of a list of strings (DnsEvent.answers: the agent sends at most 32), each as long as a path at most. */
const MAX_STRING_LIST = 64;

function clip(s: string, max: number, path: boolean, r: SanitizeReport): string {
  let out = s;
  if (path && out.includes("\u0000")) {
    // eslint-disable-next-line no-control-regex -- NUL is what is removed here
    out = out.replace(/\u0000/g, "");
    r.clipped++;
  }
  if (out.length > max) {
    out = out.slice(0, max) + "…[truncated]";
    r.clipped++;
  }
  return out;
}

/**
 * Vigil's own secrets (enrollment tokens, API keys) are never stored, whatever sent them: the agent
 * redacts command lines itself, this catches an older agent, a log line, or an agent that does not.
 */
function redact(s: string, r: SanitizeReport): string {
  const out = redactVigilSecrets(s);
  if (out !== s) r.redacted++;
  return out;
}

/** Bounds every string and number of an event body in place; hostile values are clipped, not stored as-is. */
function sanitizeBody(body: Record<string, unknown>, r: SanitizeReport): void {
  for (const k in body) {
    const v = body[k];
    if (typeof v === "string") {
      const s = redact(v, r);
      body[k] = s;
      const place = s.length > MIN_PLACE_BYTES ? PLACE_FIELD_BYTES.get(k) : undefined;
      if (place !== undefined) {
        if (s.length > place) body[k] = clip(s, place, false, r);
        continue;
      }
      // Fast path: the common short, clean string needs no work.
      if (s.length <= MAX_PATH_BYTES && (!PATH_FIELDS.has(k) || s.indexOf("\u0000") < 0)) continue;
      body[k] = clip(s, PATH_FIELDS.has(k) ? MAX_PATH_BYTES : MAX_STRING_FIELD_BYTES, PATH_FIELDS.has(k), r);
    } else if (typeof v === "number") {
      if (v < 0 || !Number.isFinite(v)) {
        body[k] = 0;
        r.clipped++;
      }
    } else if (Array.isArray(v) && typeof v[0] === "string") {
      // DnsEvent.answers: a bounded count of bounded strings (a list is all strings or all messages).
      if (v.length > MAX_STRING_LIST) r.clipped++;
      body[k] = v.slice(0, MAX_STRING_LIST).map((s) => clip(redact(String(s), r), MAX_PATH_BYTES, false, r));
    } else if (Array.isArray(v)) {
      // AuditEvent.records: a bounded count, each bounded like a body.
      if (v.length > MAX_AUDIT_RECORDS) r.clipped++;
      const kept = v.slice(0, MAX_AUDIT_RECORDS).filter((x): x is Record<string, unknown> => !!x && typeof x === "object" && !Array.isArray(x) && !Buffer.isBuffer(x));
      for (const x of kept) sanitizeBody(x, r);
      body[k] = kept;
    } else if (v && typeof v === "object" && !Buffer.isBuffer(v) && !Array.isArray(v)) {
      // AgentEvent.attributes, AuditEvent.fields: bound key count and sizes (an EXECVE record
      // carries one key per argument; the agent sends at most 256).
      const entries = Object.entries(v as Record<string, unknown>).slice(0, 256);
      body[k] = Object.fromEntries(entries.map(([ak, av]) => [clip(ak, 256, false, r), typeof av === "string" ? clip(redact(av, r), 4096, false, r) : av]));
    }
  }
}

/** Default tolerance of event times around the receive time (VIGIL_EVENT_TIME_TOLERANCE). */
export const EVENT_TIME_TOLERANCE_MS = 86_400_000;
/** The largest time a Date can hold; beyond it the reported time is kept as 0 (nonsense). */
const MAX_DATE_MS = 8.64e15;

/**
 * Checks a batch's shape (size, sequence order) and bounds its fields. A batch
 * that breaks the contract is rejected whole, so nothing half-valid is stored.
 *
 * Event times are the host's word: one far from `now` (a wrong clock, a
 * backdated event) is replaced by `now`, so it is neither deleted by retention
 * nor placed outside every window, and the time the host reported is returned
 * in `reportedTimes` (same index) to be kept beside it.
 */
export function sanitizeBatch(batch: EventBatch, now: number, toleranceMs = EVENT_TIME_TOLERANCE_MS): { events: Event[]; report: SanitizeReport; reportedTimes: Array<number | undefined> } {
  const events = batch.events;
  if (events.length === 0) throw new BatchRejected("EventBatch has no events");
  if (events.length > MAX_EVENTS_PER_BATCH) throw new BatchRejected(`EventBatch has ${events.length} events; the limit is ${MAX_EVENTS_PER_BATCH}`);
  if (events[0].seq !== batch.firstSeq) throw new BatchRejected(`EventBatch first_seq ${batch.firstSeq} does not match events[0].seq ${events[0].seq}`);
  const report: SanitizeReport = { clipped: 0, redacted: 0, skewed: 0 };
  const reportedTimes: Array<number | undefined> = [];
  let prev = 0;
  for (const [i, ev] of events.entries()) {
    if (!Number.isSafeInteger(ev.seq) || ev.seq <= 0) throw new BatchRejected(`events[${i}].seq must be a positive integer, got ${ev.seq}`);
    if (ev.seq <= prev) throw new BatchRejected(`events[${i}].seq ${ev.seq} is not greater than the previous ${prev}`);
    prev = ev.seq;
    if (!ev.body) throw new BatchRejected(`events[${i}] (seq ${ev.seq}) has no body`);
    // Clock nonsense (0, 1970, 40 days ago, far future) is stored at the arrival time, marked.
    if (!Number.isSafeInteger(ev.eventTimeMs) || Math.abs(ev.eventTimeMs - now) > toleranceMs) {
      reportedTimes[i] = Number.isSafeInteger(ev.eventTimeMs) && Math.abs(ev.eventTimeMs) <= MAX_DATE_MS ? ev.eventTimeMs : 0;
      ev.eventTimeMs = now;
      report.skewed++;
    }
    const b = ev.body as unknown as Record<string, unknown>;
    const inner = b[ev.body.$case] as Record<string, unknown>;
    sanitizeBody(inner, report);
  }
  return { events, report, reportedTimes };
}
