import { AgentStatus } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { statusJson } from "../../src/agents/agent-registry";

describe("agent status as GET /agents shows it", () => {
  it("carries pipeline losses, unhandled errors and watchdog restarts an agent reports, bounded like drops", () => {
    const wire = AgentStatus.decode(
      AgentStatus.encode(
        AgentStatus.fromPartial({
          pipelineLost: { held_overflow: 12, spool_error: 1 },
          unhandledErrors: 3,
          watchdogRestarts: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`reason${i}`, i + 1])),
        }),
      ).finish(),
    );
    const json = statusJson(wire);
    expect(json.pipelineLost).toEqual({ held_overflow: 12, spool_error: 1 });
    expect(json.unhandledErrors).toBe(3);
    expect(Object.keys(json.watchdogRestarts as object)).toHaveLength(32);
  });

  it("an older agent (none of the new fields) shows none of them", () => {
    const json = statusJson(AgentStatus.decode(AgentStatus.encode(AgentStatus.fromPartial({ spoolBytes: 10 })).finish()));
    expect(json).not.toHaveProperty("pipelineLost");
    expect(json).not.toHaveProperty("unhandledErrors");
    expect(json).not.toHaveProperty("watchdogRestarts");
    expect(json.spoolBytes).toBe(10);
  });
});
