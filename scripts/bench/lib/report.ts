import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cpus } from "node:os";

export const ROOT = join(__dirname, "..", "..", "..");

/** Replaces (or appends) one benchmark's section of docs/benchmarks.md, between its markers. */
export function writeBenchSection(name: string, markdown: string): void {
  const file = join(ROOT, "docs", "benchmarks.md");
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  let doc = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n\nMeasured on this project's CI-class machine (2 cores, 24 GiB). Each section is rewritten by its script.\n";
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + end.length) : doc.trimEnd() + "\n\n" + block + "\n";
  writeFileSync(file, doc);
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
