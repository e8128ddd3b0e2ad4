import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatRuleError, testRules, validateRuleDir } from "@vigil/detection";
import { loadConfig } from "../config/config";
import { ArchiveError } from "../sigmahq/archive";
import { PackUpdateError, updatePackFromArchive } from "../sigmahq/pack-update";

const USAGE = `usage: vigil-controller rules validate DIR
       vigil-controller rules test --rules PATH --events FILE.jsonl
       vigil-controller rules update --from SIGMAHQ-ARCHIVE(.zip|.tar.gz) [--data-dir DIR]`;

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
    for (const m of res.matches)
      console.log(
        JSON.stringify({ ruleId: m.ruleId, title: m.title, level: m.level, kind: m.kind, time: new Date(m.timeMs).toISOString(), ...(m.groupBy ? { groupBy: m.groupBy } : {}), events: m.events }),
      );
    process.stderr.write(`${res.events} events, ${res.matches.length} matches\n`);
    return 0;
  }
  if (sub === "update") return update(rest);
  return usage(sub ? `unknown rules subcommand "${sub}"` : "missing subcommand");
}

/**
 * `rules update --from ARCHIVE`: takes rules/linux/** from a SigmaHQ release archive (offline),
 * compiles each, and writes the accepted ones as the new SigmaHQ pack in the data dir, which
 * overrides the bundled pack at the next controller start. One line per refused file, then a
 * summary; exit 1 when the archive is refused whole (pack left unchanged).
 */
async function update(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, strict: true, options: { from: { type: "string" }, "data-dir": { type: "string" } } });
  if (!values.from) return usage("rules update needs --from ARCHIVE");
  if (!existsSync(values.from)) return usage(`${values.from}: no such file or directory`);
  const config = loadConfig({ dataDir: values["data-dir"] });
  try {
    const { dir, manifest } = await updatePackFromArchive(values.from, config.dataDir);
    for (const r of manifest.refused) console.log(`refused: ${r.path}: ${r.reason}`);
    console.log(`SigmaHQ pack ${manifest.version}: ${manifest.count} rule files (${manifest.compiled} rules) written to ${dir}, ${manifest.refused.length} refused; restart the controller to load it`);
    return 0;
  } catch (err) {
    if (err instanceof ArchiveError || err instanceof PackUpdateError) {
      process.stderr.write(`vigil-controller rules update: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function usage(msg: string): number {
  process.stderr.write(`vigil-controller rules: ${msg}\n${USAGE}\n`);
  return 2;
}
