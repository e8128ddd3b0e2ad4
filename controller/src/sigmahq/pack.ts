/**
 * The SigmaHQ Linux pack beside the built-in rules: which copy is in force (the one
 * `rules update` wrote into the data dir, else the one bundled with this release), and the level
 * policy that decides which of its rules alert.
 */
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Level, RuleInfo, RuleSet } from "@vigil/detection";
import { ConfigError } from "../config/config-error";
import { SIGMAHQ_BUNDLED_PACK } from "./bundled-pack";
import type { PackData, PackManifest, PackOverrides } from "./pack-types";

/** Rule sources of the pack are named "sigmahq/<category>/<file>.yml" (never an upload's name). */
export const PACK_SOURCE_PREFIX = "sigmahq/";
/** Folder of an updated pack inside the data dir. */
export const PACK_DIR_NAME = "sigmahq-pack";
/** Pack rules below this level do not alert: their matches only raise entity risk and feed correlations. */
export const ALERT_MIN_LEVEL: Level = "medium";

export const MAX_PACK_FILES = 5_000;
export const MAX_RULE_FILE_BYTES = 1024 * 1024;
const MAX_DEPTH = 4;

const LEVEL_RANK: Record<Level, number> = { informational: 0, low: 1, medium: 2, high: 3, critical: 4 };

export interface LoadedPack extends PackData {
  origin: "bundled" | "data-dir";
  /** the data-dir folder it was read from */
  dir?: string;
}

/**
 * The pack in force (the switch is config's sigmahqPack): the data dir's when `rules update` wrote
 * one, else the bundled one. A broken data-dir pack is an error at start, not a silent fallback.
 */
export function loadSigmahqPack(opts: { dataDir?: string } = {}): LoadedPack {
  const dir = opts.dataDir ? join(opts.dataDir, PACK_DIR_NAME) : undefined;
  if (dir && exists(join(dir, "manifest.json"))) return { ...readPackDir(dir), overrides: PACK_OVERRIDES, origin: "data-dir", dir };
  return { ...SIGMAHQ_BUNDLED_PACK, origin: "bundled" };
}

/** Reads a pack folder written by `rules update` (manifest.json + rules/**.yml), within fixed bounds. */
export function readPackDir(dir: string): Omit<PackData, "overrides"> {
  const manifest = JSON.parse(readBounded(join(dir, "manifest.json"))) as PackManifest;
  if (typeof manifest !== "object" || manifest === null || typeof manifest.version !== "string") throw new ConfigError(`${dir}/manifest.json: not a pack manifest`);
  const rules: { name: string; text: string }[] = [];
  const walk = (rel: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new ConfigError(`${dir}/rules: nested deeper than ${MAX_DEPTH} folders`);
    for (const e of readdirSync(join(dir, "rules", rel)).sort()) {
      const r = rel ? `${rel}/${e}` : e;
      const st = lstatSync(join(dir, "rules", r));
      if (st.isDirectory()) walk(r, depth + 1);
      else if (st.isFile() && /\.ya?ml$/i.test(e)) {
        if (rules.length >= MAX_PACK_FILES) throw new ConfigError(`${dir}/rules: more than ${MAX_PACK_FILES} rule files`);
        rules.push({ name: r, text: readBounded(join(dir, "rules", r)) });
      }
    }
  };
  walk("", 0);
  return { manifest, rules };
}

/** The pack's rule sources as compileRules takes them. */
export function packSources(pack: LoadedPack | undefined): { name: string; text: string }[] {
  return (pack?.rules ?? []).map((r) => ({ name: PACK_SOURCE_PREFIX + r.name, text: r.text }));
}

export function isPackRule(info: Pick<RuleInfo, "source">): boolean {
  return info.source.startsWith(PACK_SOURCE_PREFIX);
}

/**
 * Applies Vigil's overrides to the pack's rules in a freshly compiled RuleSet (level changes and
 * switch-offs, by id) and returns the ids of pack rules that do not alert (below medium).
 * Built-in and uploaded rules are left as they are.
 */
export function applyPackPolicy(ruleset: RuleSet, overrides: PackOverrides | undefined = PACK_OVERRIDES): Set<string> {
  for (const info of ruleset.rules) {
    if (!isPackRule(info)) continue;
    const lv = overrides?.levels?.[info.id];
    if (lv && lv.level in LEVEL_RANK) info.level = lv.level;
    if (overrides?.disabled?.[info.id] !== undefined) info.enabled = false;
  }
  return quietPackRules(ruleset.rules);
}

/** Vigil's overrides (vigil-overrides.json): the same for the bundled pack and an updated one. */
export const PACK_OVERRIDES: PackOverrides = SIGMAHQ_BUNDLED_PACK.overrides;

/** Pack rules that do not alert: below medium (after the overrides, which the compile applied). */
export function quietPackRules(rules: readonly RuleInfo[]): Set<string> {
  return new Set(rules.filter((r) => isPackRule(r) && LEVEL_RANK[r.level] < LEVEL_RANK[ALERT_MIN_LEVEL]).map((r) => r.id));
}

function readBounded(path: string): string {
  const st = lstatSync(path);
  if (!st.isFile()) throw new ConfigError(`${path}: not a regular file`);
  if (st.size > MAX_RULE_FILE_BYTES) throw new ConfigError(`${path}: larger than ${MAX_RULE_FILE_BYTES} bytes`);
  return readFileSync(path, "utf8");
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
