import { parseArgs } from "node:util";
import { SETTINGS, type AgentFlags, type SettingSpec } from "./config";

/** `spool_max_bytes` → `spool-max-bytes`. */
export function flagName(s: SettingSpec): string {
  return s.key.replace(/_/g, "-");
}

type FlagOption = { type: "string"; multiple?: boolean };

/** parseArgs options for every setting, plus --config and the older --tag spelling of --tags. */
export function settingFlagOptions(): Record<string, FlagOption> {
  const out: Record<string, FlagOption> = { config: { type: "string" }, tag: { type: "string", multiple: true } };
  for (const s of SETTINGS) out[flagName(s)] = s.list ? { type: "string", multiple: true } : { type: "string" };
  return out;
}

/** The flags of `run`, `status` and `reapply`: each setting by its key; validation is loadAgentConfig's. */
export function parseSettingFlags(argv: string[]): AgentFlags {
  const { values } = parseArgs({ args: argv, options: settingFlagOptions(), strict: true, allowPositionals: false });
  const v = values as Record<string, string | string[] | undefined>;
  const settings: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const given = v[flagName(s)];
    if (given === undefined) continue;
    // A repeated list flag may also carry commas: --watch /a,/b --watch /c.
    settings[s.key] = Array.isArray(given)
      ? given.flatMap((x) =>
          x
            .split(",")
            .map((p) => p.trim())
            .filter(Boolean),
        )
      : given;
  }
  const tag = v.tag as string[] | undefined;
  if (tag?.length) settings.tags = [...((settings.tags as string[] | undefined) ?? []), ...tag];
  return { config: v.config as string | undefined, settings };
}

/** Help lines for every setting flag, generated from the same table. */
export function settingFlagsHelp(indent = "  "): string {
  const rows = [{ left: "--config FILE", help: "YAML config file; its keys are these flags with _ for - (VIGIL_CONFIG)" }];
  for (const s of SETTINGS) rows.push({ left: `--${flagName(s)} ${s.arg}`, help: `${s.help}${s.list ? "; repeatable, or comma-separated" : ""}` });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  return rows.map((r) => `${indent}${r.left.padEnd(width)}${r.help}\n`).join("");
}
