import { COMMAND_LIMITS } from "@vigil/proto";
import { type CommandHandler, ParamError, asObject, failed, monitored, optBool, optInt, optString, rejectUnknownKeys, reqInt, succeeded } from "./handler";
import { type KillTarget, killProcess, matchesIdentity } from "./process-kill";
import { readProcStat } from "../platform/linux/processes";

const PID_MAX = 4_194_304; // kernel's PID_MAX_LIMIT

export function killProcessHandler(opts: { protectedPids: readonly number[] } = { protectedPids: [process.pid] }): CommandHandler<KillTarget> {
  return {
    type: "kill_process",
    validate(params) {
      const o = asObject(params);
      rejectUnknownKeys(o, ["pid", "startTimeMs", "startTicks", "tree", "reason"]);
      optString(o, "reason", COMMAND_LIMITS.reasonMaxChars);
      const t: KillTarget = {
        pid: reqInt(o, "pid", 1, PID_MAX),
        startTimeMs: optInt(o, "startTimeMs", 0, Number.MAX_SAFE_INTEGER),
        startTicks: optInt(o, "startTicks", 0, Number.MAX_SAFE_INTEGER),
        tree: optBool(o, "tree") ?? false,
      };
      if (t.startTimeMs === undefined && t.startTicks === undefined) throw new ParamError("startTimeMs", "is required (or startTicks) so a recycled pid is never hit");
      return t;
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
