import { compileRules, DetectionEngine, type EngineOptions, type Match, type SigmaEvent } from "../../src/sigma";

/** Compile sources that must all compile (fails the test with the errors otherwise). */
export function compileOk(...texts: string[]): ReturnType<typeof compileRules>["ruleset"] {
  const { ruleset, errors } = compileRules(texts.map((text, i) => ({ name: `t${i}.yml`, text })));
  if (errors.length) throw new Error(errors.map((e) => `${e.source}:${e.line} ${e.message}`).join("\n"));
  return ruleset;
}

/** A one-selection detection rule over process_creation. */
export function procRule(selection: string, condition = "selection", extra = ""): string {
  const body = selection
    .trim()
    .split("\n")
    .map((l) => "        " + l)
    .join("\n");
  return `title: T\nid: r1\nlogsource:\n    product: linux\n    category: process_creation\ndetection:\n    selection:\n${body}\n${extra}    condition: ${condition}\n`;
}

export function proc(fields: Record<string, unknown>, timeMs = 0): SigmaEvent {
  return { logsource: { product: "linux", category: "process_creation" }, fields, timeMs };
}

/** Does rule r1 (built from `selection`) match an event with `fields`? */
export function matches(selection: string, fields: Record<string, unknown>, condition?: string): boolean {
  const engine = new DetectionEngine(compileOk(procRule(selection, condition)));
  return engine.process(proc(fields)).length > 0;
}

export function runAll(engine: DetectionEngine, events: SigmaEvent[]): Match[] {
  const out: Match[] = [];
  for (const e of events) out.push(...engine.process(e));
  out.push(...engine.flush());
  return out;
}

export function engineFor(opts: EngineOptions, ...texts: string[]): DetectionEngine {
  return new DetectionEngine(compileOk(...texts), opts);
}

/** Matches as a consumer keeps them: an early correlation's update replaces the firing it revises. */
export function finalAlerts(ms: Match[]): Match[] {
  const out: Match[] = [];
  const at = new Map<string, number>();
  for (const m of ms) {
    const key = m.dedupWindow ? JSON.stringify([m.rule.id, m.groupBy, m.dedupWindow.startMs]) : undefined;
    const i = key === undefined ? undefined : at.get(key);
    if (m.update) {
      if (i === undefined) throw new Error(`update without an earlier firing: ${key}`);
      out[i] = m;
    } else {
      if (key !== undefined) {
        if (at.has(key)) throw new Error(`duplicate early firing: ${key}`);
        at.set(key, out.length);
      }
      out.push(m);
    }
  }
  return out;
}
