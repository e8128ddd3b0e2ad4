/**
 * Compiles a rule's `detection` section (search identifiers + condition) into one event test,
 * and derives the prefilter key: literals of which at least one must occur for a match.
 */
import { parseCondition, type Cond } from "./condition";
import { CompileError, fail } from "./errors";
import { compileFieldItem, type EventTest, type FieldMatcher, type FieldOptions } from "./field-matcher";

/** A match is only possible if some `field` (lower-cased) contains its `needle`. */
export type Key = { field: string; needle: string }[];

export interface CompiledDetection {
  test: EventTest;
  key: Key | null;
}

interface Selection {
  test: EventTest;
  key: Key | null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function compileDetection(detection: unknown, opts: FieldOptions): CompiledDetection {
  if (!isRecord(detection)) fail(`'detection' must be a map`, "detection", ["detection"]);
  const { condition, timeframe, ...idents } = detection;
  if (condition === undefined) fail(`'detection' has no 'condition'`, "condition", ["detection"]);
  if (timeframe !== undefined) fail(`'timeframe' belongs to the legacy aggregation syntax; use a correlation rule`, "timeframe", ["detection", "timeframe"]);
  const names = Object.keys(idents);
  const sels = new Map<string, Selection>();
  for (const name of names) sels.set(name, compileSelection(idents[name], ["detection", name], opts));

  const conds = Array.isArray(condition) ? condition : [condition];
  const trees = conds.map((c, i) => {
    if (typeof c !== "string") fail(`condition must be a string`, "condition", ["detection", "condition"]);
    try {
      return parseCondition(c, names);
    } catch (e) {
      if (e instanceof CompileError) e.path = Array.isArray(condition) ? ["detection", "condition", i] : ["detection", "condition"];
      throw e;
    }
  });
  // A list of conditions is OR-ed.
  const tree: Cond = trees.length === 1 ? trees[0] : { op: "or", args: trees };
  return { test: compileCond(tree, sels), key: condKey(tree, sels) };
}

function compileSelection(v: unknown, path: (string | number)[], opts: FieldOptions): Selection {
  const at = <T>(p: (string | number)[], f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof CompileError && !e.path) e.path = p;
      throw e;
    }
  };
  if (isRecord(v)) return at(path, () => compileMap(v, path, opts));
  if (Array.isArray(v)) {
    if (v.length === 0) fail(`search identifier is an empty list`, "empty selection", path);
    if (v.every((x) => !isRecord(x) && !Array.isArray(x))) {
      const m = at(path, () => compileFieldItem(null, [], v, opts));
      return { test: m.test, key: null };
    }
    const parts = v.map((x, i) => compileSelection(x, [...path, i], opts));
    return {
      test: (ev) => parts.some((p) => p.test(ev)),
      key: parts.every((p) => p.key) ? parts.flatMap((p) => p.key!) : null,
    };
  }
  if (typeof v === "string" || typeof v === "number") {
    const m = at(path, () => compileFieldItem(null, [], v, opts));
    return { test: m.test, key: null };
  }
  fail(`search identifier must be a map, a list or a keyword (got ${v === null ? "null" : typeof v})`, "selection type", path);
}

function compileMap(m: Record<string, unknown>, path: (string | number)[], opts: FieldOptions): Selection {
  const items: FieldMatcher[] = [];
  for (const [k, v] of Object.entries(m)) {
    const [field, ...mods] = k.split("|");
    try {
      items.push(compileFieldItem(field === "" ? null : field, mods, v, opts));
    } catch (e) {
      if (e instanceof CompileError && !e.path) e.path = [...path, k];
      throw e;
    }
  }
  if (items.length === 0) fail(`search identifier is an empty map`, "empty selection", path);
  const tests = items.map((i) => i.test);
  let best: Key | null = null;
  for (const it of items) {
    if (!it.key) continue;
    const k = it.key.needles.map((needle) => ({ field: it.key!.field, needle }));
    if (!best || score(k) > score(best)) best = k;
  }
  return { test: tests.length === 1 ? tests[0] : (ev) => tests.every((t) => t(ev)), key: best };
}

/** Longer needles are more selective; among equals, fewer alternatives. */
function score(k: Key): number {
  return Math.min(...k.map((x) => Math.min(x.needle.length, 12))) - k.length / 1000;
}

function compileCond(c: Cond, sels: Map<string, Selection>): EventTest {
  switch (c.op) {
    case "id":
      return sels.get(c.name)!.test;
    case "not": {
      const t = compileCond(c.arg, sels);
      return (ev) => !t(ev);
    }
    case "and": {
      const ts = c.args.map((a) => compileCond(a, sels));
      return (ev) => ts.every((t) => t(ev));
    }
    case "or": {
      const ts = c.args.map((a) => compileCond(a, sels));
      return (ev) => ts.some((t) => t(ev));
    }
    case "of": {
      const ts = c.names.map((n) => sels.get(n)!.test);
      if (c.count === "all") return (ev) => ts.every((t) => t(ev));
      const need = c.count;
      return (ev) => {
        let n = 0;
        for (const t of ts) if (t(ev) && ++n >= need) return true;
        return false;
      };
    }
  }
}

function condKey(c: Cond, sels: Map<string, Selection>): Key | null {
  const andKey = (keys: (Key | null)[]): Key | null => {
    let best: Key | null = null;
    for (const k of keys) if (k && (!best || score(k) > score(best))) best = k;
    return best;
  };
  const orKey = (keys: (Key | null)[]): Key | null => (keys.every((k) => k) ? keys.flatMap((k) => k!) : null);
  switch (c.op) {
    case "id":
      return sels.get(c.name)!.key;
    case "not":
      return null;
    case "and":
      return andKey(c.args.map((a) => condKey(a, sels)));
    case "or":
      return orKey(c.args.map((a) => condKey(a, sels)));
    case "of": {
      const keys = c.names.map((n) => sels.get(n)!.key);
      return c.count === "all" ? andKey(keys) : orKey(keys);
    }
  }
}
