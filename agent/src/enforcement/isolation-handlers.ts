import { validateCommandParams } from "@vigil/proto";
import { type CommandHandler, failed, monitored, succeeded } from "./handler";
import type { IsolationManager } from "./isolation";

export interface IsolateParams {
  allowCidrs: string[];
  reason?: string;
}

export function isolateHandler(manager: IsolationManager): CommandHandler<IsolateParams> {
  return {
    type: "isolate",
    validate(params) {
      const p = validateCommandParams("isolate", params);
      return { allowCidrs: p.allowCidrs, reason: p.reason };
    },
    async run(p, mode, ctx) {
      if (mode === "monitor") {
        try {
          return monitored(["apply nftables table inet vigil_isolate (policy drop; controller and allowlist reachable)"], { ruleset: manager.plan(p.allowCidrs) });
        } catch (e) {
          return failed(`cannot build isolation rules: ${(e as Error).message}`);
        }
      }
      const r = await manager.isolate({ commandId: ctx.commandId, local: ctx.local, extraAllowCidrs: p.allowCidrs });
      if (!r.ok) return failed(r.reason, { rolledBack: r.rolledBack });
      return succeeded({ isolated: true, alreadyIsolated: r.alreadyIsolated === true });
    },
  };
}

export function releaseHandler(manager: IsolationManager): CommandHandler<{ reason?: string }> {
  return {
    type: "release",
    validate(params) {
      return { reason: validateCommandParams("release", params).reason };
    },
    async run(_p, mode, ctx) {
      if (mode === "monitor") return monitored(["delete nftables table inet vigil_isolate"]);
      const r = await manager.release({ commandId: ctx.commandId });
      if (!r.ok) return failed(r.reason);
      return succeeded({ isolated: false, wasIsolated: r.wasIsolated });
    },
  };
}
