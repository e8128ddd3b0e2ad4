import { BUILTIN_RULES, compileRules, formatRuleError, type RuleError, type RuleInfo, type RuleSet } from "@vigil/detection";
import type { Repository } from "typeorm";
import { applyPackPolicy, isPackRule, packSources, PACK_SOURCE_PREFIX, type LoadedPack } from "../sigmahq/pack";
import { RuleSourceEntity, RuleSettingEntity } from "./detection.entities";

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

export type RulesetListener = (ruleset: RuleSet) => void;
export type EnabledListener = (ruleId: string, enabled: boolean) => void;

const MAX_YAML_BYTES = 1024 * 1024;

/**
 * The rules in force: the built-in pack plus uploaded Sigma files (stored whole, so a correlation
 * keeps its base rules), compiled once into one RuleSet. An upload or delete recompiles and
 * announces the new RuleSet; enable/disable switches are persisted per rule id and applied
 * without recompiling.
 */
export class RuleCatalog {
  private sources: RuleSourceEntity[] = [];
  private overrides = new Map<string, boolean>();
  private current!: RuleSet;
  private quiet = new Set<string>();
  /** The pack's own refusals at the last compile (logged at start). */
  packErrors: RuleError[] = [];
  private readonly rulesetListeners: RulesetListener[] = [];
  private readonly enabledListeners: EnabledListener[] = [];

  constructor(
    private readonly sourceRepo: Repository<RuleSourceEntity>,
    private readonly settingRepo: Repository<RuleSettingEntity>,
    private readonly now: () => number = Date.now,
    /** The SigmaHQ pack compiled beside the built-in rules, if switched on. */
    readonly pack?: LoadedPack,
  ) {}

  async load(): Promise<void> {
    this.sources = await this.sourceRepo.find({ order: { createdAt: "ASC" } });
    this.overrides = new Map((await this.settingRepo.find()).map((s) => [s.ruleId, s.enabled === 1]));
    const { ruleset, errors, quiet } = this.compile(this.sources);
    this.packErrors = errors.filter((e) => e.source.startsWith(PACK_SOURCE_PREFIX));
    this.current = ruleset;
    this.quiet = quiet;
  }

  /** Whether a match of this rule becomes an alert (see applyPackPolicy). */
  alerts(ruleId: string): boolean {
    return !this.quiet.has(ruleId);
  }

  get ruleset(): RuleSet {
    return this.current;
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

  /** The analyst switches, for engines created after the switch was set. */
  get enabledOverrides(): ReadonlyMap<string, boolean> {
    return this.overrides;
  }

  list(): RuleView[] {
    const uploaded = new Set(this.sources.map((s) => s.name));
    return this.current.rules.map((r) => ({
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
  async upload(yaml: string, name: string | undefined, actor: string): Promise<RuleView[]> {
    if (Buffer.byteLength(yaml) > MAX_YAML_BYTES) throw new RuleUploadError(`rule file is larger than ${MAX_YAML_BYTES} bytes`);
    if (yaml.trim() === "") throw new RuleUploadError("rule file is empty");
    const sourceName = name ?? `uploaded-${this.now()}.yml`;
    if (BUILTIN_RULES.some((b) => b.name === sourceName)) throw new RuleUploadError(`name '${sourceName}' is a built-in rule file; choose another`);
    if (sourceName.startsWith(PACK_SOURCE_PREFIX)) throw new RuleUploadError(`names starting with '${PACK_SOURCE_PREFIX}' belong to the SigmaHQ pack; choose another`);
    const others = this.sources.filter((s) => s.name !== sourceName);
    const candidate = { name: sourceName, yaml, ruleIds: [] as string[], createdAt: this.now(), createdBy: actor } as RuleSourceEntity;
    const compiled = this.compile([...others, candidate]);
    const { ruleset, errors } = compiled;
    const mine = errors.filter((e) => e.source === sourceName);
    if (mine.length > 0) throw new RuleUploadError(`refused: ${mine.map(formatRuleError).join("; ")}`, mine);
    const added = ruleset.rules.filter((r) => r.source === sourceName);
    if (added.length === 0) throw new RuleUploadError("no Sigma rule found in the upload");
    const clash = added.find((r) => ruleset.rules.some((o) => o.id === r.id && o.source !== sourceName));
    if (clash) {
      const other = ruleset.rules.find((o) => o.id === clash.id && o.source !== sourceName)!;
      throw new RuleUploadError(`rule id '${clash.id}' (${clash.title}) already exists in ${other.source}; give it a new id or upload under that name to replace it`);
    }
    candidate.ruleIds = added.map((r) => r.id);
    await this.sourceRepo.save(candidate, { transaction: false });
    this.sources = [...others, candidate];
    this.swap(compiled);
    return this.list().filter((r) => r.source === sourceName);
  }

  /** Deletes the uploaded file that holds rule `id` (with its other documents); returns their ids. */
  async remove(id: string): Promise<string[] | undefined> {
    const src = this.sources.find((s) => s.ruleIds.includes(id));
    if (!src) return undefined;
    const rest = this.sources.filter((s) => s !== src);
    await this.sourceRepo.delete({ name: src.name });
    this.sources = rest;
    this.swap(this.compile(rest));
    return src.ruleIds;
  }

  async setEnabled(id: string, enabled: boolean, actor: string): Promise<RuleView | undefined> {
    if (!this.current.rules.some((r) => r.id === id)) return undefined;
    await this.settingRepo.save({ ruleId: id, enabled: enabled ? 1 : 0, updatedAt: this.now(), updatedBy: actor }, { transaction: false });
    this.overrides.set(id, enabled);
    for (const l of this.enabledListeners) l(id, enabled);
    return this.get(id);
  }

  /** Built-in pack, SigmaHQ pack, uploads: one RuleSet, with the pack's level policy applied. */
  private compile(sources: RuleSourceEntity[]): { ruleset: RuleSet; errors: RuleError[]; quiet: Set<string> } {
    const out = compileRules([...BUILTIN_RULES, ...packSources(this.pack), ...sources.map((s) => ({ name: s.name, text: s.yaml }))]);
    return { ...out, quiet: applyPackPolicy(out.ruleset, this.pack?.overrides) };
  }

  private swap({ ruleset, quiet }: { ruleset: RuleSet; quiet: Set<string> }): void {
    this.current = ruleset;
    this.quiet = quiet;
    for (const l of this.rulesetListeners) l(ruleset);
  }
}
