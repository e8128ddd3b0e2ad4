import type { Level } from "@vigil/detection";

/** A file that did not make it into the pack, and why (shown by `rules update` and kept in the manifest). */
export interface PackRefusal {
  path: string;
  reason: string;
}

/** What a pack says about itself: where it came from, when, and how many rules it holds. */
export interface PackManifest {
  pack: string;
  version: string;
  date: string;
  count: number;
  compiled?: number;
  refused: PackRefusal[];
  source: Record<string, unknown>;
  [more: string]: unknown;
}

/**
 * Vigil's own policy over upstream rules, by rule id (the rule files stay as SigmaHQ wrote them):
 * a level override or a switch-off, each with the reason a reviewer can check.
 */
export interface PackOverrides {
  comment?: string;
  levels?: Record<string, { level: Level; reason: string }>;
  disabled?: Record<string, string>;
}

export interface PackData {
  manifest: PackManifest;
  overrides: PackOverrides;
  /** name: path inside the pack ("process_creation/x.yml") */
  rules: { name: string; text: string }[];
}
