import { CommandStatus, type CommandResult, type Event } from "@vigil/proto";

const STATUS: Record<string, CommandStatus> = {
  succeeded: CommandStatus.COMMAND_STATUS_SUCCEEDED,
  failed: CommandStatus.COMMAND_STATUS_FAILED,
  refused: CommandStatus.COMMAND_STATUS_REFUSED,
  not_enforced: CommandStatus.COMMAND_STATUS_NOT_ENFORCED,
};

/**
 * The agent also writes every command result into its spool as an `agent`
 * event (kind "command_result"), so results of actions taken while offline
 * arrive through the same acknowledged, exactly-once path as telemetry.
 */
export function commandResultFromEvent(ev: Event): CommandResult | null {
  if (ev.body?.$case !== "agent" || ev.body.agent.kind !== "command_result") return null;
  const a = ev.body.agent.attributes;
  const status = STATUS[a.status ?? ""];
  if (!status || !a.commandId) return null;
  return {
    commandId: a.commandId,
    status,
    reason: ev.body.agent.message ?? "",
    outputJson: a.output ?? "",
    finishedAtMs: Number(a.finishedAtMs) || ev.eventTimeMs,
    local: a.local === "true",
    type: a.type ?? "",
  };
}
