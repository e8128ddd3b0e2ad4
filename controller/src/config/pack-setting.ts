import { ConfigError } from "./config-error";

/** VIGIL_SIGMAHQ_PACK=on|off (default on). */
export function sigmahqPackEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env.VIGIL_SIGMAHQ_PACK ?? "on").trim().toLowerCase();
  if (v === "on" || v === "") return true;
  if (v === "off") return false;
  throw new ConfigError(`VIGIL_SIGMAHQ_PACK: expected "on" or "off", got "${env.VIGIL_SIGMAHQ_PACK}"`);
}
