/** Cores of `vigil-controller rules validate DIR` and `rules test --rules PATH --events FILE`. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { Event } from "@vigil/proto";
import { compileRules, type CompileOptions } from "./compile";
import { DetectionEngine, type EngineOptions } from "./engine";
import { toSigmaEvent } from "./field-mapping";
import { formatRuleError, type LogSource, type Match, type RuleError, type SigmaEvent } from "./types";

/** Every .yml/.yaml file at or below `path` (a file is taken as is), sorted for stable output. */
export function loadRuleSources(path: string): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      for (const e of readdirSync(p).sort()) walk(join(p, e));
    } else if (p === path || /\.ya?ml$/i.test(p)) {
      out.push({ name: p === path ? p : relative(path, p), text: readFileSync(p, "utf8") });
    }
  };
  walk(path);
  return out;
}

export interface ValidateResult {
  /** one line per refused rule, one per correlation saying when it fires, then `compiled N, refused M` */
  lines: string[];
  compiled: number;
  refused: number;
  errors: RuleError[];
}

export function validateRuleDir(dir: string, opts: CompileOptions = {}): ValidateResult {
  const { ruleset, errors } = compileRules(loadRuleSources(dir), opts);
  const compiled = ruleset.rules.length;
  const lines = errors.map(formatRuleError);
  // Say when each correlation answers: at once, or only once its window (and the tolerance) has passed.
  for (const r of ruleset.rules) {
    if (r.kind !== "correlation") continue;
    const when = r.firing === "early" ? "fires early (the moment its condition holds)" : "fires at window close (timespan + reorder tolerance)";
    lines.push(`${r.source}: correlation '${r.title}' (${r.id}) ${r.correlationType}: ${when}`);
  }
  lines.push(`compiled ${compiled}, refused ${errors.length}`);
  return { lines, compiled, refused: errors.length, errors };
}

export interface TestMatch {
  ruleId: string;
  title: string;
  level: string;
  kind: Match["kind"];
  timeMs: number;
  groupBy?: Record<string, unknown>;
  /** the matched events as given in the input (Sigma field form) */
  events: Record<string, unknown>[];
}

export interface TestResult {
  matches: TestMatch[];
  ruleErrors: RuleError[];
  /** lines of the events file that could not be read; the other lines were still evaluated */
  eventErrors: { line: number; message: string }[];
  events: number;
}

const VIGIL_BODIES = ["process", "file", "network", "auth", "agent", "audit", "log", "dns"];

/**
 * A line is a Vigil event when it has the Event.toJSON shape (one body key such as `process`
 * holding an object, and no other non-metadata keys); otherwise it is a flat Sigma record.
 */
const API_KEYS = new Set(["id", "agentId", "hostname", "seq", "type", "action", "eventTime", "receivedAt", ...VIGIL_BODIES]);
const ENUM_PREFIX: Record<string, string> = { process: "PROCESS_ACTION_", file: "FILE_ACTION_", network: "NETWORK_ACTION_", auth: "AUTH_ACTION_" };

export function parseEventLine(obj: unknown): SigmaEvent | null {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw new Error("an event must be a JSON object");
  const o = obj as Record<string, unknown>;
  const body = VIGIL_BODIES.filter((k) => typeof o[k] === "object" && o[k] !== null);
  const meta = new Set(["seq", "eventTimeMs", "agentId", "hostname", ...VIGIL_BODIES]);
  if (body.length === 1 && Object.keys(o).every((k) => meta.has(k))) {
    const ev = Event.fromJSON(o);
    return toSigmaEvent(ev, { agentId: String(o.agentId ?? ""), hostname: String(o.hostname ?? "") });
  }
  // An event as the controller's API returns it (GET /api/v1/events): short enum names, ISO time.
  if (body.length === 1 && typeof o.type === "string" && o.type === body[0] && typeof o.eventTime === "string" && Object.keys(o).every((k) => API_KEYS.has(k))) {
    const kind = body[0];
    const inner = { ...(o[kind] as Record<string, unknown>) };
    const prefix = ENUM_PREFIX[kind];
    if (prefix && typeof inner.action === "string") inner.action = prefix + inner.action.toUpperCase();
    if (typeof inner.direction === "string") inner.direction = "DIRECTION_" + inner.direction.toUpperCase();
    const ev = Event.fromJSON({ seq: o.seq ?? 0, eventTimeMs: Date.parse(o.eventTime), [kind]: inner });
    return toSigmaEvent(ev, { agentId: String(o.agentId ?? ""), hostname: String(o.hostname ?? "") });
  }
  const { logsource, timeMs, ...fields } = o;
  let ls: LogSource = {};
  if (logsource !== undefined) {
    if (typeof logsource !== "object" || logsource === null) throw new Error("'logsource' must be an object {product, category, service}");
    ls = logsource as LogSource;
  }
  return { logsource: ls, fields, timeMs: eventTime(timeMs, fields) };
}

function eventTime(timeMs: unknown, fields: Record<string, unknown>): number {
  if (typeof timeMs === "number") return timeMs;
  for (const k of ["@timestamp", "timestamp", "UtcTime", "EventTime"]) {
    const v = fields[k];
    const t = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : NaN;
    if (!Number.isNaN(t)) return t;
  }
  return 0;
}

export function testRules(rulesPath: string, eventsJsonl: string, opts: CompileOptions & EngineOptions = {}): TestResult {
  const { ruleset, errors } = compileRules(loadRuleSources(rulesPath), opts);
  // Replays are whole files: tolerate any disorder inside them.
  const engine = new DetectionEngine(ruleset, { outOfOrderToleranceMs: Number.MAX_SAFE_INTEGER, ...opts });
  const result: TestResult = { matches: [], ruleErrors: errors, eventErrors: [], events: 0 };
  // An early correlation's update replaces the match it revises (out-of-order lines in the file).
  const earlyAt = new Map<string, number>();
  const take = (ms: Match[]): void => {
    for (const m of ms) {
      const tm: TestMatch = {
        ruleId: m.rule.id,
        title: m.rule.title,
        level: m.rule.level,
        kind: m.kind,
        timeMs: m.timeMs,
        ...(m.groupBy ? { groupBy: m.groupBy } : {}),
        events: m.events.map((e) => e.fields),
      };
      const key = m.dedupWindow ? JSON.stringify([m.rule.id, m.groupBy, m.dedupWindow.startMs]) : undefined;
      const at = key === undefined ? undefined : earlyAt.get(key);
      if (m.update && at !== undefined) result.matches[at] = tm;
      else {
        if (key !== undefined) earlyAt.set(key, result.matches.length);
        result.matches.push(tm);
      }
    }
  };
  eventsJsonl.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    try {
      const ev = parseEventLine(JSON.parse(line));
      if (!ev) return;
      result.events++;
      take(engine.process(ev));
    } catch (e) {
      result.eventErrors.push({ line: i + 1, message: (e as Error).message });
    }
  });
  take(engine.flush());
  return result;
}
