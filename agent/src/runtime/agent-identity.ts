import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The agent's id lives in its state dir so it survives restarts and upgrades.
 * After enrollment the id comes from the client certificate instead.
 */
export function loadOrCreateAgentId(stateDir: string): string {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, "agent-id");
  if (existsSync(file)) {
    const id = readFileSync(file, "utf8").trim();
    if (/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id)) return id;
    throw new Error(`${file} holds an invalid agent id; remove it to get a new identity`);
  }
  const id = randomUUID();
  writeFileSync(file, id + "\n", { mode: 0o600 });
  return id;
}
