import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import type { PackageLayers } from "./layers";

/** One relative import between two files of the same package (paths relative to its src/). */
export interface ImportEdge {
  from: string;
  to: string;
}

export interface LayerReport {
  /** Imports from a lower layer into a higher one, with the layers named. */
  upward: string[];
  /** Files or folders that no layer lists (a new folder must be placed in the order). */
  unplaced: string[];
  /** Relative imports that resolve to no file. */
  unresolved: string[];
  /** Each file cycle once, as "a -> b -> a". */
  cycles: string[];
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

/** `import`, `import type`, `export … from`, `require` and `import("literal")` specifiers. */
export function importSpecifiers(source: string): string[] {
  // preProcessFile is the compiler's own import scanner: it sees type-only imports, re-exports
  // and dynamic imports of string literals, and ignores imports inside comments and strings.
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

function resolveRelative(fromFile: string, spec: string): string | undefined {
  const base = resolve(dirname(fromFile), spec.replace(/\.(js|ts)$/, ""));
  return [`${base}.ts`, join(base, "index.ts")].find((c) => existsSync(c));
}

/** Every relative import of the package's src/, plus the specifiers that resolve to nothing. */
export function readImports(srcRoot: string): { edges: ImportEdge[]; unresolved: string[]; files: string[] } {
  const edges: ImportEdge[] = [];
  const unresolved: string[] = [];
  const files = sourceFiles(srcRoot);
  for (const file of files) {
    const from = relative(srcRoot, file).split(sep).join("/");
    for (const spec of importSpecifiers(readFileSync(file, "utf8"))) {
      if (!spec.startsWith(".")) continue; // packages (@vigil/*, node:*) are outside the order
      const target = resolveRelative(file, spec);
      if (target === undefined) unresolved.push(`${from}: ${spec}`);
      else edges.push({ from, to: relative(srcRoot, target).split(sep).join("/") });
    }
  }
  return { edges, unresolved, files: files.map((f) => relative(srcRoot, f).split(sep).join("/")) };
}

/** The top-level member a file belongs to: its first folder, or the file itself at the root. */
function memberOf(file: string): string {
  const slash = file.indexOf("/");
  return slash < 0 ? file : file.slice(0, slash);
}

/** Each elementary cycle found by a depth-first search, reported once from its smallest file. */
export function findCycles(edges: readonly ImportEdge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    const list = next.get(e.from) ?? [];
    if (!list.includes(e.to)) list.push(e.to);
    next.set(e.from, list);
  }
  const cycles = new Set<string>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, "open");
    stack.push(node);
    for (const to of next.get(node) ?? []) {
      const s = state.get(to);
      if (s === "open") {
        const loop = stack.slice(stack.indexOf(to));
        const start = loop.indexOf([...loop].sort()[0]!);
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        cycles.add([...rotated, rotated[0]].join(" -> "));
      } else if (s === undefined) visit(to);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...next.keys()].sort()) if (!state.has(node)) visit(node);
  return [...cycles].sort();
}

/** Judges the package's imports against its layer order. */
export function checkLayers(repoRoot: string, pkg: PackageLayers): LayerReport {
  const srcRoot = join(repoRoot, pkg.root);
  const rank = new Map<string, number>();
  pkg.layers.forEach((layer, i) => {
    for (const m of layer.members) {
      if (rank.has(m)) throw new Error(`${pkg.root}: ${m} is listed in two layers`);
      rank.set(m, i);
    }
  });
  const { edges, unresolved, files } = readImports(srcRoot);
  const unplaced = [...new Set(files.map(memberOf).filter((m) => !rank.has(m)))].sort();
  const upward: string[] = [];
  for (const e of edges) {
    const a = rank.get(memberOf(e.from));
    const b = rank.get(memberOf(e.to));
    if (a === undefined || b === undefined || b <= a) continue;
    upward.push(`${e.from} (${pkg.layers[a]!.name}) -> ${e.to} (${pkg.layers[b]!.name})`);
  }
  return { upward: [...new Set(upward)], unplaced, unresolved, cycles: findCycles(edges) };
}

/** Hand-written SQL statements (not words in prose: the keyword must be followed by its clause). */
const SQL = /\b(SELECT\s+[\w*(]|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s)/;

/**
 * Files of the package, outside its persistence folder, that import TypeORM or write SQL: the
 * rule is that services and controllers reach the database only through repositories.
 */
export function persistenceOutside(repoRoot: string, pkg: PackageLayers, home: string): string[] {
  const srcRoot = join(repoRoot, pkg.root);
  const out: string[] = [];
  for (const file of sourceFiles(srcRoot)) {
    const rel = relative(srcRoot, file).split(sep).join("/");
    if (rel.startsWith(`${home}/`)) continue;
    const text = readFileSync(file, "utf8");
    if (importSpecifiers(text).some((s) => s === "typeorm" || s.startsWith("typeorm/")) || SQL.test(text)) out.push(rel);
  }
  return out;
}
