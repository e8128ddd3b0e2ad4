import { BUILTIN_RULES, formatRuleError, type RuleError, type RuleInfo } from "@vigil/detection";
import { isPackRule, packSources, PACK_SOURCE_PREFIX, quietPackRules, type LoadedPack } from "../sigmahq/pack";
import type { RuleSourceEntity } from "../database/entities/detection.entities";
import type { RuleRepository } from "../database/repositories/rule-repository";
import { RuleCompiler, type CompiledRules } from "./rule-compiler";

export interface RuleView extends RuleInfo {
  origin: "builtin" | "sigmahq" | "uploaded";
  /** False for SigmaHQ pack rules below medium: their matches raise entity risk and feed correlations only. */
  alerts: boolean;
}

/** An upload that cannot be accepted; `errors` name the rule, line and feature. */
export class RuleUploadError extends Error {
  constructor(
    message: string,
    readonly errors: RuleError[] = [],
  ) {
    super(message);
  }
}

/** The rules in force changed (an upload or delete); the detection worker recompiles them. */
export type RulesetListener = () => void;
export type EnabledListener = (ruleId: string, enabled: boolean) => void;

const MAX_YAML_BYTES = 1024 * 1024;

/**
 * The rules in force: the built-in pack, the SigmaHQ pack when switched on (sigmahq/pack.ts; its
 * level policy is applied where it is compiled), plus uploaded Sigma files (stored whole, so a
 * correlation keeps its base rules). Validation and compiling run in a worker thread (RuleCompiler), off the
 * thread that serves the API and ingest, and compile only the file that changed (CompileCache:
 * the others are reused, only linking is redone); a change is then announced to the detection
 * worker. Enable/disable switches are persisted per rule id and applied without recompiling.
 * Uploads and deletes are applied one at a time.
 */
export class RuleCatalog {
  private sources: RuleSourceEntity[] = [];
  private overrides = new Map<string, boolean>();
  private current: RuleInfo[] = [];
  private quiet = new Set<string>();
  private readonly packFiles: { name: string; text: string }[];
  /** The SigmaHQ pack's own refusals at the last compile (logged at start). */
  packErrors: RuleError[] = [];
  private readonly rulesetListeners: RulesetListener[] = [];
  private readonly enabledListeners: EnabledListener[] = [];
  private readonly compiler = new RuleCompiler();
  private changes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: RuleRepository,
    private readonly now: () => number = Date.now,
    /** The SigmaHQ pack compiled beside the built-in rules, if switched on. */
    readonly pack?: LoadedPack,
  ) {
    this.packFiles = packSources(pack);
  }

  async load(): Promise<void> {
    this.sources = await this.repo.allSources();
    this.overrides = new Map((await this.repo.allSettings()).map((s) => [s.ruleId, s.enabled === 1]));
    const { rules, errors } = await this.compile(this.sources);
    this.packErrors = errors.filter((e) => e.source.startsWith(PACK_SOURCE_PREFIX));
    this.setCurrent(rules);
  }

  /**
   * Distributed mode: another replica changed rules (uploaded, deleted, switched). Re-reads them;
   * the engines are told only what differs (a recompile only when the uploaded sources did).
   */
  reloadFromDatabase(): Promise<void> {
    return this.oneAtATime(async () => {
      const sources = await this.repo.allSources();
      const overrides = new Map((await this.repo.allSettings()).map((s) => [s.ruleId, s.enabled === 1]));
      const key = (list: RuleSourceEntity[]) => JSON.stringify(list.map((x) => [x.name, x.yaml]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)));
      const sourcesChanged = key(sources) !== key(this.sources);
      const before = this.overrides;
      this.sources = sources;
      this.overrides = overrides;
      if (sourcesChanged) this.swap((await this.compile(sources)).rules);
      for (const [id, on] of overrides) if (before.get(id) !== on) for (const l of this.enabledListeners) l(id, on);
    });
  }

  /** Whether a match of this rule becomes an alert (pack rules below medium do not). */
  alerts(ruleId: string): boolean {
    return !this.quiet.has(ruleId);
  }

  async close(): Promise<void> {
    await this.compiler.close();
  }

  onRuleset(l: RulesetListener): void {
    this.rulesetListeners.push(l);
  }

  onEnabled(l: EnabledListener): void {
    this.enabledListeners.push(l);
  }

  isEnabled(info: RuleInfo): boolean {
    return this.overrides.get(info.id) ?? info.enabled;
  }

  /**
   * What the workers compile after the built-in pack: the SigmaHQ pack's files ("sigmahq/…"; the
   * workers apply its level policy), then the uploaded files in force.
   */
  get uploadedSources(): { name: string; text: string }[] {
    return [...this.packFiles, ...this.sources.map((s) => ({ name: s.name, text: s.yaml }))];
  }

  /** Documents compiled and reused since start (incremental recompilation at work). */
  get compileStats(): { compiledDocs: number; reusedDocs: number } {
    return { ...this.compiler.stats };
  }

  /** The analyst switches, for engines created after the switch was set. */
  get enabledOverrides(): ReadonlyMap<string, boolean> {
    return this.overrides;
  }

  list(): RuleView[] {
    const uploaded = new Set(this.sources.map((s) => s.name));
    return this.current.map((r) => ({
      ...r,
      enabled: this.isEnabled(r),
      origin: uploaded.has(r.source) ? "uploaded" : isPackRule(r) ? "sigmahq" : "builtin",
      alerts: this.alerts(r.id),
    }));
  }

  get(id: string): RuleView | undefined {
    return this.list().find((r) => r.id === id);
  }

  /**
   * Compiles `yaml` with every other rule (so it may reference them) and stores it under `name`
   * (an upload with the same name replaces that file). Refused whole if any document fails.
   */
  upload(yaml: string, name: string | undefined, actor: string): Promise<RuleView[]> {
    return this.oneAtATime(() => this.doUpload(yaml, name, actor));
  }

  private async doUpload(yaml: string, name: string | undefined, actor: string): Promise<RuleView[]> {
    if (Buffer.byteLength(yaml) > MAX_YAML_BYTES) throw new RuleUploadError(`rule file is larger than ${MAX_YAML_BYTES} bytes`);
    if (yaml.trim() === "") throw new RuleUploadError("rule file is empty");
    const sourceName = name ?? `uploaded-${this.now()}.yml`;
    if (BUILTIN_RULES.some((b) => b.name === sourceName)) throw new RuleUploadError(`name '${sourceName}' is a built-in rule file; choose another`);
    if (sourceName.startsWith(PACK_SOURCE_PREFIX)) throw new RuleUploadError(`names starting with '${PACK_SOURCE_PREFIX}' belong to the SigmaHQ pack; choose another`);
    const others = this.sources.filter((s) => s.name !== sourceName);
    const candidate = { name: sourceName, yaml, ruleIds: [] as string[], createdAt: this.now(), createdBy: actor } as RuleSourceEntity;
    const { rules, errors } = await this.compile([...others, candidate]);
    const mine = errors.filter((e) => e.source === sourceName);
    if (mine.length > 0) throw new RuleUploadError(`refused: ${mine.map(formatRuleError).join("; ")}`, mine);
    const added = rules.filter((r) => r.source === sourceName);
    if (added.length === 0) throw new RuleUploadError("no Sigma rule found in the upload");
    const clash = added.find((r) => rules.some((o) => o.id === r.id && o.source !== sourceName));
    if (clash) {
      const other = rules.find((o) => o.id === clash.id && o.source !== sourceName)!;
      throw new RuleUploadError(`rule id '${clash.id}' (${clash.title}) already exists in ${other.source}; give it a new id or upload under that name to replace it`);
    }
    candidate.ruleIds = added.map((r) => r.id);
    await this.repo.saveSource(candidate);
    this.sources = [...others, candidate];
    this.swap(rules);
    return this.list().filter((r) => r.source === sourceName);
  }

  /** Deletes the uploaded file that holds rule `id` (with its other documents); returns their ids. */
  remove(id: string): Promise<string[] | undefined> {
    return this.oneAtATime(() => this.doRemove(id));
  }

  private async doRemove(id: string): Promise<string[] | undefined> {
    const src = this.sources.find((s) => s.ruleIds.includes(id));
    if (!src) return undefined;
    const rest = this.sources.filter((s) => s !== src);
    await this.repo.removeSource(src.name);
    this.sources = rest;
    this.swap((await this.compile(rest)).rules);
    return src.ruleIds;
  }

  async setEnabled(id: string, enabled: boolean, actor: string): Promise<RuleView | undefined> {
    if (!this.current.some((r) => r.id === id)) return undefined;
    await this.repo.setEnabled(id, enabled, this.now(), actor);
    this.overrides.set(id, enabled);
    for (const l of this.enabledListeners) l(id, enabled);
    return this.get(id);
  }

  private compile(sources: RuleSourceEntity[]): Promise<CompiledRules> {
    return this.compiler.compile([...this.packFiles, ...sources.map((s) => ({ name: s.name, text: s.yaml }))]);
  }

  private oneAtATime<T>(f: () => Promise<T>): Promise<T> {
    const p = this.changes.then(f);
    this.changes = p.catch(() => undefined);
    return p;
  }

  private setCurrent(rules: RuleInfo[]): void {
    this.current = rules;
    this.quiet = quietPackRules(rules);
  }

  private swap(rules: RuleInfo[]): void {
    this.setCurrent(rules);
    for (const l of this.rulesetListeners) l();
  }
}
