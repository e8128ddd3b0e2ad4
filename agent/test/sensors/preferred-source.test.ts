import { describe, expect, it } from "vitest";
import { PreferredSource } from "../../src/sensors/preferred-source";
import type { Sensor, SensorHealth } from "../../src/sensors/sensor";
import { RecordingSink } from "./process/recorder";

/** A sensor that starts or not, as told; records whether it was stopped. */
function fake(name: string, starts: boolean, detail: string): Sensor & { stopped: boolean } {
  let running = false;
  return {
    name,
    stopped: false,
    async start() {
      running = starts;
    },
    async stop() {
      this.stopped = true;
      running = false;
    },
    health: (): SensorHealth => ({ name, running, detail, events: 0, errors: 0 }),
  };
}

describe("PreferredSource", () => {
  it("runs the first source that starts, naming why each better one did not and what it misses", async () => {
    const ebpf = fake("process", false, "eBPF unavailable: no BTF");
    const audit = fake("process", false, "audit unavailable: auditd is not running");
    const poll = fake("process", true, "scanning");
    const s = new PreferredSource("process", [
      { source: "ebpf", create: () => ebpf, misses: "" },
      { source: "audit", create: () => audit, misses: "exits" },
      { source: "/proc polling", create: () => poll, misses: "short processes" },
    ]);
    await s.start(new RecordingSink());
    expect(s.running).toBe(poll);
    expect(ebpf.stopped && audit.stopped).toBe(true);
    expect(s.health()).toMatchObject({
      running: true,
      detail: "source: /proc polling (eBPF unavailable: no BTF; audit unavailable: auditd is not running); misses: short processes; scanning",
    });
  });

  it("reports the best source's own health unchanged when it runs", async () => {
    const s = new PreferredSource("process", [{ source: "ebpf", create: () => fake("process", true, "source: ebpf (4 tracepoints)"), misses: "" }]);
    await s.start(new RecordingSink());
    expect(s.health().detail).toBe("source: ebpf (4 tracepoints)");
  });

  it("is not running, with every reason, when no source starts", async () => {
    const s = new PreferredSource("process", [{ source: "audit", create: () => fake("process", false, "audit unavailable: not root"), misses: "exits" }]);
    await s.start(new RecordingSink());
    expect(s.health()).toMatchObject({ running: false, detail: "audit unavailable: not root" });
  });
});
