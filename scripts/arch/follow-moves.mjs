#!/usr/bin/env node
// Rewrites relative imports that point at a file moved by the layering (scripts/arch/moves.txt),
// for code written against the old layout (e.g. a branch merged after the moves). Idempotent: an
// import that resolves today is left alone. Run from the repository root:
//   node scripts/arch/follow-moves.mjs            rewrite files in place, print what changed
//   node scripts/arch/follow-moves.mjs --check    exit 1 if anything would change
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, extname, join, relative, resolve } from "node:path";
import ts from "typescript";

const root = process.cwd();
const SRC = "controller/src/";
const check = process.argv.includes("--check");
const strip = (p) => p.replace(/\.ts$/, "");
const moves = readFileSync(join(root, "scripts/arch/moves.txt"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"))
  .map((l) => l.split(/\s+/));
const newOf = new Map(moves.map(([from, to]) => [strip(from), strip(to)]));
const oldOf = new Map(moves.map(([from, to]) => [strip(to), strip(from)]));

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === "node_modules" || e.name === "dist" ? [] : e.isDirectory() ? walk(join(dir, e.name)) : /\.(ts|mts|mjs)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}
const resolves = (base) => existsSync(`${base}.ts`) || existsSync(join(base, "index.ts")) || existsSync(`${base}.mjs`);

let changed = 0;
for (const file of ["controller/src", "controller/test", "scripts"].flatMap((d) => walk(join(root, d)))) {
  const rel = relative(root, file);
  // A moved file may still carry imports written from its old place.
  const key = rel.startsWith(SRC) ? strip(rel.slice(SRC.length)) : undefined;
  const oldRel = key !== undefined && oldOf.has(key) ? SRC + oldOf.get(key) + extname(rel) : rel;
  const src = readFileSync(file, "utf8");
  const edits = [];
  for (const imp of ts.preProcessFile(src, true, true).importedFiles) {
    const spec = imp.fileName;
    if (!spec.startsWith(".")) continue;
    const ext = (/\.(js|ts)$/.exec(spec) ?? [""])[0];
    const bare = spec.slice(0, spec.length - ext.length);
    const here = resolve(dirname(file), bare);
    if (resolves(here) || resolves(here.replace("/controller/dist/", "/controller/src/"))) continue;
    for (const from of new Set([rel, oldRel])) {
      const target = relative(root, resolve(dirname(join(root, from)), bare));
      const prefix = [SRC, "controller/dist/"].find((p) => target.startsWith(p));
      if (!prefix) continue;
      const k = target.slice(prefix.length);
      const moved = newOf.get(k) ?? (newOf.has(`${k}/index`) ? newOf.get(`${k}/index`) : undefined);
      if (moved === undefined && !resolves(join(root, SRC, k))) continue;
      let next = relative(dirname(file), join(root, prefix + (moved ?? k)));
      if (!next.startsWith(".")) next = `./${next}`;
      next += ext;
      const at = src.indexOf(spec, Math.max(0, imp.pos - 2));
      if (at >= 0 && next !== spec) edits.push([at, spec.length, next]);
      break;
    }
  }
  if (edits.length === 0) continue;
  let out = src;
  for (const [at, len, text] of edits.sort((a, b) => b[0] - a[0])) out = out.slice(0, at) + text + out.slice(at + len);
  changed++;
  console.log(`${rel}: ${edits.length} import(s)`);
  if (!check) writeFileSync(file, out);
}
if (check && changed > 0) process.exit(1);
