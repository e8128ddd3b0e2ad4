/**
 * Rule changes at scale: what one upload costs with 5,500 rules loaded, compiling everything
 * (before issue #10) versus compiling only the changed file (CompileCache, as RuleCatalog and the
 * detection worker do now).
 *   npx tsx scripts/bench/rule-compile.ts
 * The last line is: rule-compile: full <F> ms, incremental <I> ms (<R> rules)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { BUILTIN_RULES, CompileCache, compileRules, loadRuleSources } from "../../detection/src/sigma";

const SAMPLES = join(__dirname, "../../detection/test/fixtures/sigmahq-linux");
const TARGET = 5_500;

/** Variants of the sample rules with new ids and shifted literals. */
function synthetic(sources: { name: string; text: string }[], count: number): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (let i = 0; out.length < count; i++) {
    const s = sources[i % sources.length];
    const v = Math.floor(i / sources.length) + 1;
    const text = s.text
      .replace(/^id: .*$/m, `id: synth-${i}`)
      .replace(/'([^'\n]+)'/g, (_m, lit: string) => `'${lit}v${v}'`)
      .replace(/^name: .*$/m, "");
    out.push({ name: `synth-${i}.yml`, text });
  }
  return out;
}

function ms(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const best = (runs: number, f: () => number): number => Math.min(...Array.from({ length: runs }, f));

const samples = loadRuleSources(SAMPLES);
const base = [...BUILTIN_RULES, ...synthetic(samples, TARGET)];
const upload = synthetic(samples, TARGET + 1)
  .slice(-1)
  .map((s) => ({ ...s, name: "upload.yml", text: s.text.replace(/^id: .*$/m, "id: uploaded-1") }));
let rules = 0;
const full = best(3, () => ms(() => (rules = compileRules([...base, ...upload]).ruleset.rules.length)));
const cache = new CompileCache();
compileRules(base, { cache });
const incremental = best(3, () => {
  compileRules(base, { cache }); // back to the state before the upload
  return ms(() => compileRules([...base, ...upload], { cache }));
});
const remove = best(3, () => {
  compileRules([...base, ...upload], { cache });
  return ms(() => compileRules(base, { cache }));
});

console.log(`${rules} rules: full recompile ${full.toFixed(0)} ms; upload of one file ${incremental.toFixed(0)} ms; delete of one file ${remove.toFixed(0)} ms`);
writeSection([
  "## Rule changes",
  "",
  `\`npx tsx scripts/bench/rule-compile.ts\` — ${rules} rules (built-in pack + synthetic variants of the public Linux samples), best of 3. ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
  "",
  "| rule change | ms |",
  "|---|---|",
  `| recompile everything (every change, before issue #10) | ${full.toFixed(0)} |`,
  `| upload of one file (only that file compiles; linking redone) | ${incremental.toFixed(0)} |`,
  `| delete of one file | ${remove.toFixed(0)} |`,
  "",
  "Enable/disable compiles nothing. The detection worker keeps its own cache, so it recompiles the same one file.",
]);
console.log(`rule-compile: full ${full.toFixed(0)} ms, incremental ${incremental.toFixed(0)} ms (${rules} rules)`);

/** Rewrite only this benchmark's section of docs/benchmarks.md. */
function writeSection(lines: string[]): void {
  const file = join(__dirname, "../../docs/benchmarks.md");
  const block = ["<!-- bench:rule-compile -->", ...lines, "<!-- /bench:rule-compile -->"].join("\n");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const re = /<!-- bench:rule-compile -->[\s\S]*?<!-- \/bench:rule-compile -->/;
  writeFileSync(file, re.test(text) ? text.replace(re, block) : `${text.trimEnd()}\n\n${block}\n`);
}
