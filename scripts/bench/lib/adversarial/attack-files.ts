import { lstatSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import type { Ctx, Outcome } from "./context";

/**
 * Every path below `dir` (itself included) that group or others may read, write
 * or enter. Certificates (*.crt) are public by nature and left out; everything
 * else (database, WAL, keys, identity, spool, policy) must be owner-only, also
 * inside an owner-only directory (the database may be moved out of it).
 */
function exposed(dir: string, depth = 3): string[] {
  const out: string[] = [];
  const walk = (p: string, d: number) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.mode & 0o077 && !(st.isFile() && p.endsWith(".crt"))) out.push(`${relative(dir, p) || "."} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory() && d > 0) for (const e of readdirSync(p)) walk(join(p, e), d - 1);
  };
  walk(dir, depth);
  return out;
}

/**
 * Class 11: what another local user could read. The controller's data dir
 * (database, WAL, keys, CA) and the agent's state dir (identity, spool),
 * as the running processes left them. Held: nothing group/other-accessible.
 */
export function fileModes(x: Ctx): Outcome {
  const ctl = exposed(x.c.dataDir);
  const agent = exposed(x.agent.stateDir);
  const all = [...ctl.map((p) => `controller:${p}`), ...agent.map((p) => `agent:${p}`)];
  return {
    id: "11",
    attack: "data dir, database and state file modes",
    held: all.length === 0,
    measured: all.length ? `${all.length} exposed: ${all.slice(0, 5).join(", ")}${all.length > 5 ? ", …" : ""}` : "all 0600/0700",
  };
}
