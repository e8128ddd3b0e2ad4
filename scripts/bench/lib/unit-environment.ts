import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./report";

/**
 * The environment the systemd unit of scripts/install-agent.sh gives the agent (its `Environment=`
 * lines), read from the script itself, so a bench starts the agent as an installed host does and
 * the unit stays the one place where it is set. One `NAME=value` per line, no quoting: a line the
 * bench cannot read exactly fails it rather than being measured wrong.
 */
export function agentUnitEnvironment(script = join(ROOT, "scripts", "install-agent.sh")): Record<string, string> {
  const text = readFileSync(script, "utf8");
  const unit = /^write_unit\(\) \{[^\n]*\n\tcat >"\$1" <<EOF\n([\s\S]*?)\nEOF\n/m.exec(text)?.[1];
  if (unit === undefined) throw new Error(`${script}: no write_unit heredoc found`);
  const env: Record<string, string> = {};
  for (const line of unit.split("\n")) {
    if (!line.startsWith("Environment=")) continue;
    const m = /^Environment=([A-Z_][A-Z0-9_]*)=([A-Za-z0-9_.,:/=+-]*)$/.exec(line);
    if (!m) throw new Error(`${script}: cannot read "${line}" (one NAME=value per Environment= line, no quotes or spaces)`);
    env[m[1]!] = m[2]!;
  }
  return env;
}
