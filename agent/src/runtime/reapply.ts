import type { AgentConfig } from "../config/config";
import { createEnforcement } from "../enforcement";
import type { Log } from "../util/log";
import { ControllerEndpoints } from "./controller-endpoints";
import { isolationPolicyFor } from "./isolation-policy";

/**
 * `vigil-agent reapply`: puts a persisted isolation and IP blocks back into the
 * kernel and exits. The systemd unit runs it as ExecStartPre, ordered before
 * network-pre.target, so an isolated host never has its network up unprotected
 * at boot, however long the agent itself takes to start.
 */
export async function reapplyEnforcement(cfg: AgentConfig, log: Log): Promise<{ isolated: boolean; blocks: number; errors: string[] }> {
  const endpoints = new ControllerEndpoints(cfg.controller, cfg.stateDir, log);
  // At boot DNS is usually not up yet; the endpoints saved at the last isolation are used then.
  await endpoints.refresh().catch(() => undefined);
  const enf = createEnforcement({
    stateDir: cfg.stateDir,
    isolationPolicy: () => isolationPolicyFor(cfg, endpoints),
    // Never roll back here: a controller that is down at boot must not release the host.
    checkControllerReachable: async () => true,
  });
  const errors: string[] = [];
  const iso = await enf.isolation.reapplyOnStart().catch((e: Error) => ({ reapplied: false, error: e.message }));
  if (iso.error) errors.push(`isolation: ${iso.error}`);
  let blocks = 0;
  if (enf.blocks.list().length > 0) {
    const bl = await enf.blocks.reapplyOnStart().catch((e: Error) => ({ reapplied: 0, error: e.message }));
    if (bl.error) errors.push(`blocks: ${bl.error}`);
    blocks = bl.reapplied;
  }
  return { isolated: iso.reapplied === true, blocks, errors };
}
