/**
 * compileRules: YAML sources -> RuleSet. Each document is compiled on its own; a document that
 * fails is reported (file, line, rule, feature) and left out, and everything else still runs.
 */
import { parseCorrelation, type CorrelationSpec } from "./correlation-def";
import { splitLegacyAggregation } from "./legacy-aggregation";
import { compileDetection, type CompiledDetection } from "./detection";
import { CompileError, fail } from "./errors";
import type { EventTest, FieldOptions } from "./field-matcher";
import type { Level, LogSource, RuleError, RuleInfo } from "./types";
import { readYamlDocs, type RuleDoc } from "./yaml-source";

export interface CompileOptions extends FieldOptions {
  /** Reuse what unchanged sources compiled to last time (see CompileCache). */
  cache?: CompileCache;
}

export interface ResolvedCorrelation extends CorrelationSpec {
  /** referenced rules (indices into RuleSet.compiled), in the order written */
  refIdx: number[];
  /** groupFields[j][g]: the event field holding group-by value g for referenced rule j (aliases applied) */
  groupFields: string[][];
}

/** @internal the engine's view of one compiled rule */
export interface CompiledRule {
  info: RuleInfo;
  logsource: LogSource;
  detection?: CompiledDetection;
  /** Sigma meta-filters: the rule does not match when any of these does */
  excludes: EventTest[];
  correlation?: ResolvedCorrelation;
  /** indices of the correlations that consume this rule's matches */
  feeds: number[];
  /** correlations only: Sigma `generate: true`, the referenced rules also alert on their own */
  generateRefs?: boolean;
}

export class RuleSet {
  /** @internal */
  constructor(readonly compiled: CompiledRule[]) {}

  get rules(): RuleInfo[] {
    return this.compiled.map((c) => c.info);
  }
}

const LEVELS: Level[] = ["informational", "low", "medium", "high", "critical"];
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined);

interface Pending {
  doc: RuleDoc;
  source: string;
  body: Record<string, unknown>;
}

/** What one YAML document of a source became, before rules are linked (reusable across compiles). */
type DocEntry =
  | { k: "error"; error: RuleError }
  | { k: "rule"; p: Pending; info: RuleInfo; logsource: LogSource; detection: CompiledDetection; name?: string; legacy?: Record<string, unknown> }
  | { k: "correlation"; p: Pending }
  | { k: "filter"; p: Pending; test?: EventTest; error?: unknown };

/**
 * Remembers what each source file compiled to, so a rule upload, delete or edit compiles only the
 * documents of the file that changed (issue #10: every change recompiled all rules, 1.5 s at 5.5k
 * rules, on the thread serving the API). Linking (filters, correlations, ids) is redone each time:
 * it is cheap. Use one cache per set of CompileOptions.
 */
export class CompileCache {
  private entries = new Map<string, { text: string; docs: DocEntry[] }>();
  /** Documents compiled / taken from the cache, over the cache's life. */
  compiledDocs = 0;
  reusedDocs = 0;

  /** @internal */
  docsOf(src: { name: string; text: string }, opts: FieldOptions, seen: Set<string>): DocEntry[] {
    seen.add(src.name);
    const hit = this.entries.get(src.name);
    if (hit && hit.text === src.text) {
      this.reusedDocs += hit.docs.length;
      return hit.docs;
    }
    const docs = compileSource(src, opts);
    this.compiledDocs += docs.length;
    this.entries.set(src.name, { text: src.text, docs });
    return docs;
  }

  /** @internal drops sources that are gone */
  keepOnly(seen: Set<string>): void {
    for (const name of [...this.entries.keys()]) if (!seen.has(name)) this.entries.delete(name);
  }
}

function refusal(p: { doc: RuleDoc; source: string; body?: Record<string, unknown> }, e: unknown): RuleError {
  const ce = e instanceof CompileError ? e : new CompileError(e instanceof Error ? e.message : String(e));
  return {
    source: p.source,
    title: str(p.body?.title),
    id: str(p.body?.id),
    line: ce.path ? p.doc.lineOf(ce.path) : p.doc.line,
    feature: ce.feature,
    message: ce.message,
  };
}

function compileSource(src: { name: string; text: string }, opts: FieldOptions): DocEntry[] {
  const out: DocEntry[] = [];
  for (const doc of readYamlDocs(src.text)) {
    const p = { doc, source: src.name };
    if (doc.error) {
      out.push({ k: "error", error: { source: src.name, line: doc.error.line ?? doc.line, feature: "YAML syntax", message: doc.error.message } });
      continue;
    }
    if (doc.value === null || doc.value === undefined) continue; // empty document (e.g. trailing ---)
    try {
      if (!isRecord(doc.value)) fail(`a rule must be a YAML map`, "document type");
      const body = doc.value;
      if (body.action !== undefined) fail(`legacy multi-document 'action: ${String(body.action)}' collections are not supported`, "action", ["action"]);
      if (body.correlation !== undefined) out.push({ k: "correlation", p: { ...p, body } });
      else if (body.filter !== undefined) out.push(compileFilter({ ...p, body }, opts));
      else {
        try {
          const legacy = splitLegacyAggregation(body, `${src.name}#${doc.index}`);
          const rule = legacy ? legacy.base : body;
          const info = ruleInfo(rule, src.name, doc.index, "detection");
          if (rule.detection === undefined) fail(`rule has no 'detection' (nor 'correlation' or 'filter')`, "detection");
          const logsource = readLogsource(rule.logsource);
          const detection = compileDetection(rule.detection, opts);
          out.push({ k: "rule", p: { ...p, body }, info: { ...info, logsource }, logsource, detection, name: str(rule.name), legacy: legacy?.correlation });
        } catch (e) {
          out.push({ k: "error", error: refusal({ ...p, body }, e) });
        }
      }
    } catch (e) {
      out.push({ k: "error", error: refusal(p, e) });
    }
  }
  return out;
}

function compileFilter(f: Pending, opts: FieldOptions): DocEntry {
  try {
    const spec = f.body.filter;
    if (!isRecord(spec)) fail(`'filter' must be a map`, "filter", ["filter"]);
    const { rules: targets, ...detection } = spec;
    const list = typeof targets === "string" ? [targets] : targets;
    if (!Array.isArray(list) || list.length === 0) fail(`'filter.rules' must list rule ids or names`, "filter rules", ["filter", "rules"]);
    return { k: "filter", p: f, test: wrapPath(["filter"], () => compileDetection(detection, opts)).test };
  } catch (e) {
    return { k: "filter", p: f, error: e };
  }
}

export function compileRules(sources: { name: string; text: string }[], opts: CompileOptions = {}): { ruleset: RuleSet; errors: RuleError[] } {
  const errors: RuleError[] = [];
  const rules: CompiledRule[] = [];
  const correlations: Pending[] = [];
  const filters: { p: Pending; test: EventTest }[] = [];
  const byRef = new Map<string, number>();
  const refuse = (p: { doc: RuleDoc; source: string; body?: Record<string, unknown> }, e: unknown): void => {
    errors.push(refusal(p, e));
  };
  const cache = opts.cache ?? new CompileCache();
  const seen = new Set<string>();

  for (const src of sources) {
    for (const d of cache.docsOf(src, opts, seen)) {
      if (d.k === "error") errors.push(d.error);
      else if (d.k === "correlation") correlations.push(d.p);
      else if (d.k === "filter") {
        if (d.test) filters.push({ p: d.p, test: d.test });
        else refuse(d.p, d.error);
      } else {
        try {
          // Fresh objects: linking below writes feeds, excludes and generates.
          addRule(rules, byRef, { info: { ...d.info, logsource: { ...d.logsource } }, logsource: d.logsource, detection: d.detection, excludes: [], feeds: [] }, d.name);
          if (d.legacy) correlations.push({ ...d.p, body: d.legacy });
        } catch (e) {
          refuse(d.p, e);
        }
      }
    }
  }
  if (opts.cache) opts.cache.keepOnly(seen);

  for (const { p: f, test } of filters) {
    try {
      const spec = f.body.filter as Record<string, unknown>;
      const list = (typeof spec.rules === "string" ? [spec.rules] : spec.rules) as unknown[];
      // A filter written for a wider rule set may name rules this set does not have: those names are
      // skipped, and the filter is refused only when it would apply to nothing at all.
      const targetsFound = list.flatMap((r) => {
        const idx = byRef.get(String(r));
        return idx !== undefined && rules[idx].detection ? [idx] : [];
      });
      if (targetsFound.length === 0) fail(`filter refers to no known detection rule (${list.map(String).join(", ")})`, "filter reference", ["filter", "rules"]);
      for (const idx of targetsFound) rules[idx].excludes.push(test);
    } catch (e) {
      refuse(f, e);
    }
  }

  // Correlations may reference each other in any order: resolve until no progress.
  let pending = correlations.map((c) => ({ ...c, spec: undefined as CorrelationSpec | undefined }));
  for (const c of pending) {
    try {
      c.spec = wrapPath([], () => parseCorrelation(c.body.correlation));
    } catch (e) {
      refuse(c, e);
    }
  }
  pending = pending.filter((c) => c.spec);
  for (let progress = true; progress && pending.length;) {
    progress = false;
    for (const c of [...pending]) {
      const spec = c.spec!;
      if (!spec.refs.every((r) => byRef.has(r))) continue;
      pending.splice(pending.indexOf(c), 1);
      progress = true;
      try {
        const info = ruleInfo(c.body, c.source, c.doc.index, "correlation");
        info.correlationType = spec.type;
        info.firing = spec.firing;
        const refIdx = spec.refs.map((r) => byRef.get(r)!);
        const groupFields = refIdx.map((ri, j) =>
          spec.groupBy.map((g) => {
            const a = spec.aliases.get(g);
            return a?.get(spec.refs[j]) ?? a?.get(rules[ri].info.name ?? "") ?? a?.get(rules[ri].info.id) ?? g;
          }),
        );
        const generateRefs = c.body.generate === true || (isRecord(c.body.correlation) && c.body.correlation.generate === true);
        const idx = addRule(rules, byRef, { info, logsource: {}, excludes: [], feeds: [], correlation: { ...spec, refIdx, groupFields }, generateRefs }, str(c.body.name));
        for (const ri of new Set(refIdx)) rules[ri].feeds.push(idx);
      } catch (e) {
        refuse(c, e);
      }
    }
  }
  for (const c of pending) {
    const missing = c.spec!.refs.filter((r) => !byRef.has(r));
    const j = c.spec!.refs.indexOf(missing[0]);
    refuse(c, new CompileError(`correlation refers to unknown or refused rule(s): ${missing.join(", ")}`, "correlation reference", ["correlation", "rules", j]));
  }

  // Sigma `generate`: rules consumed by a correlation stay silent unless a consumer sets generate: true.
  for (const r of rules) {
    if (r.feeds.length === 0) continue;
    r.info.generates = r.feeds.some((ci) => rules[ci].generateRefs === true);
  }
  return { ruleset: new RuleSet(rules), errors };
}

function wrapPath<T>(prefix: (string | number)[], f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CompileError) e.path = [...prefix, ...(e.path ?? [])];
    throw e;
  }
}

function addRule(rules: CompiledRule[], byRef: Map<string, number>, r: CompiledRule, name: string | undefined): number {
  if (byRef.has(r.info.id)) fail(`duplicate rule id '${r.info.id}'`, "duplicate id", ["id"]);
  if (name !== undefined && byRef.has(name)) fail(`duplicate rule name '${name}'`, "duplicate name", ["name"]);
  const idx = rules.length;
  rules.push(r);
  byRef.set(r.info.id, idx);
  if (name !== undefined) byRef.set(name, idx);
  return idx;
}

function readLogsource(v: unknown): LogSource {
  if (!isRecord(v)) fail(`'logsource' is mandatory and must be a map`, "logsource", ["logsource"]);
  const out: LogSource = {};
  for (const k of ["product", "category", "service"] as const) {
    if (v[k] === undefined || v[k] === null) continue;
    if (typeof v[k] !== "string") fail(`logsource.${k} must be a string`, "logsource", ["logsource", k]);
    out[k] = (v[k] as string).toLowerCase();
  }
  return out;
}

function ruleInfo(body: Record<string, unknown>, source: string, index: number, kind: RuleInfo["kind"]): RuleInfo {
  const title = str(body.title);
  if (!title) fail(`rule has no 'title'`, "title", ["title"]);
  const level = body.level === undefined ? "medium" : str(body.level)?.toLowerCase();
  if (!LEVELS.includes(level as Level)) fail(`level ${JSON.stringify(body.level)} is not one of ${LEVELS.join(", ")}`, "level", ["level"]);
  const tags = body.tags === undefined ? [] : body.tags;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string")) fail(`'tags' must be a list of strings`, "tags", ["tags"]);
  const status = str(body.status);
  const info: RuleInfo = {
    id: str(body.id) ?? str(body.name) ?? `${source}#${index}`,
    name: str(body.name),
    title,
    level: level as Level,
    tags: tags as string[],
    status,
    description: str(body.description),
    logsource: {},
    kind,
    source,
    enabled: status !== "deprecated" && status !== "unsupported",
    generates: true,
  };
  return info;
}
