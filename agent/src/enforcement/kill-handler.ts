import { validateCommandParams } from "@vigil/proto";
import { type CommandHandler, failed, monitored, succeeded } from "./handler";
import { type KillTarget, killProcess, matchesIdentity } from "./process-kill";
import { readProcStat } from "../platform/linux/processes";

export function killProcessHandler(opts: { protectedPids: readonly number[] } = { protectedPids: [process.pid] }): CommandHandler<KillTarget> {
  return {
    type: "kill_process",
    validate(params) {
      const p = validateCommandParams("kill_process", params);
      return { pid: p.pid, startTimeMs: p.startTimeMs, startTicks: p.startTicks, tree: p.tree ?? false };
    },
    async run(t, mode) {
      if (mode === "monitor") {
        const s = readProcStat(t.pid);
        const match = s !== undefined && matchesIdentity(s, t, 1000);
        return monitored([`${t.tree ? "SIGSTOP then SIGKILL the process tree of" : "SIGKILL"} pid ${t.pid}`], { present: match, comm: match ? s.comm : null });
      }
      const r = await killProcess(t, { protectedPids: opts.protectedPids });
      if (!r.ok) return failed(r.reason, { killed: r.killed ?? [] });
      return succeeded({ killed: r.killed });
    },
  };
}
