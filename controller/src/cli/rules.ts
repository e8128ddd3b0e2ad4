import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatRuleError, testRules, validateRuleDir } from "@vigil/detection";

const USAGE = `usage: vigil-controller rules validate DIR
       vigil-controller rules test --rules PATH --events FILE.jsonl`;

/**
 * `rules validate DIR`: one line per refused rule, one per correlation saying whether it fires early
 * or at window close, then `compiled N, refused M`; exit 1 if any
 * was refused. `rules test`: every match as one JSON line (rule id, title, the event(s)); exit 0.
 */
export async function rulesCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "validate") {
    const { positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: {} });
    if (positionals.length !== 1) return usage("rules validate takes exactly one DIR");
    const dir = positionals[0]!;
    if (!existsSync(dir)) return usage(`${dir}: no such file or directory`);
    const res = validateRuleDir(dir);
    for (const line of res.lines) console.log(line);
    return res.refused === 0 ? 0 : 1;
  }
  if (sub === "test") {
    const { values } = parseArgs({ args: rest, strict: true, options: { rules: { type: "string" }, events: { type: "string" } } });
    if (!values.rules || !values.events) return usage("rules test needs --rules PATH and --events FILE.jsonl");
    for (const p of [values.rules, values.events]) if (!existsSync(p)) return usage(`${p}: no such file or directory`);
    const res = testRules(values.rules, readFileSync(values.events, "utf8"));
    for (const e of res.ruleErrors) process.stderr.write(`refused: ${formatRuleError(e)}\n`);
    for (const e of res.eventErrors) process.stderr.write(`${values.events}:${e.line}: skipped: ${e.message}\n`);
    for (const m of res.matches) console.log(JSON.stringify({ ruleId: m.ruleId, title: m.title, level: m.level, kind: m.kind, time: new Date(m.timeMs).toISOString(), ...(m.groupBy ? { groupBy: m.groupBy } : {}), events: m.events }));
    process.stderr.write(`${res.events} events, ${res.matches.length} matches\n`);
    return 0;
  }
  return usage(sub ? `unknown rules subcommand "${sub}"` : "missing subcommand");
}

function usage(msg: string): number {
  process.stderr.write(`vigil-controller rules: ${msg}\n${USAGE}\n`);
  return 2;
}
