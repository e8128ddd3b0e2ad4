import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_AUDIT_RECORDS } from "@vigil/proto";
import type { TestController } from "../support/controller";
import { request } from "../support/http";
import { connect, send, settled, startDetectionController, T0 } from "./support";

const RULE = `title: Immutable Bit Removed (merged)\nid: 33333333-3333-4444-5555-666666666666\nlogsource:\n  product: linux\n  service: auditd\ndetection:\n  sel:\n    type: EXECVE\n    a0|endswith: chattr\n    a1|contains: '-i'\n  condition: sel\nlevel: medium\n`;

/** One audit event of several records (what the agent now sends for an exec), through ingest, storage, search and detection. */
describe("merged audit events", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startDetectionController();
    expect((await request(ctl, "POST", "/api/v1/rules?name=merged.yml", RULE, { "content-type": "text/yaml" })).status).toBe(201);
  });
  afterAll(async () => ctl?.dispose());

  const execEvent = (a1: string, serial: number) => () => ({
    eventTimeMs: T0,
    body: {
      $case: "audit" as const,
      audit: {
        recordType: "SYSCALL",
        serial,
        fields: { syscall: "59", a0: "55d1c0", a1: "55d1d0", exe: "/usr/bin/chattr", comm: "chattr", key: "exec" },
        raw: `type=SYSCALL msg=audit(1.000:${serial}): syscall=59 exe="/usr/bin/chattr"`,
        records: [
          { recordType: "EXECVE", fields: { argc: "3", a0: "chattr", a1, a2: "/etc/passwd" }, raw: `type=EXECVE msg=audit(1.000:${serial}): argc=3 a0="chattr" a1="${a1}" a2="/etc/passwd"` },
          { recordType: "PATH", fields: { item: "0", name: "/usr/bin/chattr" }, raw: "type=PATH" },
          { recordType: "PROCTITLE", fields: { proctitle: `chattr ${a1} /etc/passwd` }, raw: "type=PROCTITLE" },
        ],
      },
    },
  });

  it("is stored as one event with its records, found by its command line, and alerted on by a per-record (EXECVE) rule", async () => {
    const a = await connect(ctl, "merged-host");
    await send(a, 1, [execEvent("-i", 1), execEvent("+i", 2)]);
    await settled(ctl);
    const evs = (await request(ctl, "GET", "/api/v1/events?type=audit&agent=merged-host")).body.items;
    expect(evs).toHaveLength(2);
    expect(evs[0].audit.records.map((r: { recordType: string }) => r.recordType)).toEqual(["EXECVE", "PATH", "PROCTITLE"]);
    const found = (await request(ctl, "GET", "/api/v1/events?agent=merged-host&q=chattr%20-i%20%2Fetc")).body.items;
    expect(found.map((e: { seq: number }) => e.seq)).toEqual([1]);
    const alerts = (await request(ctl, "GET", "/api/v1/alerts?agent=merged-host")).body.items;
    // The -i exec only: SYSCALL's a1 (a pointer) does not stand in for the command's arguments.
    expect(alerts.map((x: { rule: { id: string }; count: number }) => [x.rule.id, x.count])).toEqual([["33333333-3333-4444-5555-666666666666", 1]]);
    a.close();
  });

  it("a hostile agent's oversized record list is bounded, not stored as sent", async () => {
    const a = await connect(ctl, "flood-host");
    const big = "y".repeat(6000);
    await send(a, 1, [
      () => ({
        eventTimeMs: T0,
        body: {
          $case: "audit" as const,
          audit: {
            recordType: "SYSCALL",
            serial: 9,
            fields: { exe: "/bin/x" },
            raw: "r",
            records: Array.from({ length: 200 }, (_, i) => ({ recordType: "PATH", fields: { name: big, item: String(i) }, raw: big })),
          },
        },
      }),
    ]);
    await settled(ctl);
    const ev = (await request(ctl, "GET", "/api/v1/events?type=audit&agent=flood-host")).body.items[0];
    expect(ev.audit.records).toHaveLength(MAX_AUDIT_RECORDS);
    expect(ev.audit.records[0].fields.name.length).toBeLessThan(4200); // clipped to 4096 plus a truncation mark
    a.close();
  });
});
