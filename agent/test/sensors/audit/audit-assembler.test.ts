import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_AUDIT_RECORDS, type AuditEvent } from "@vigil/proto";
import { AuditAssembler, AuditSensor, parseAuditLine, type AuditAssemblerOptions } from "../../../src/sensors/audit";

const rec = (type: string, serial: number, rest: string, t = "1700000000.123") => parseAuditLine(`type=${type} msg=audit(${t}:${serial}): ${rest}`)!;
const exec = (serial: number, t?: string) => [
  rec("SYSCALL", serial, `arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=1 pid=${serial} uid=0 comm="curl" exe="/usr/bin/curl" key="exec"`, t),
  rec("EXECVE", serial, `argc=2 a0="curl" a1="http://x"`, t),
  rec("CWD", serial, `cwd="/root"`, t),
  rec("PATH", serial, `item=0 name="/usr/bin/curl" inode=1 nametype=NORMAL`, t),
  rec("PATH", serial, `item=1 name="/lib64/ld-linux-x86-64.so.2" inode=2 nametype=NORMAL`, t),
  rec("PROCTITLE", serial, `proctitle=6375726C00687474703A2F2F78`, t),
  rec("EOE", serial, "", t),
];

function harness(opts: Omit<AuditAssemblerOptions, "now"> = {}) {
  let now = 0;
  const out: AuditEvent[] = [];
  const a = new AuditAssembler({ ...opts, now: () => now }, (e) => out.push(e));
  return { a, out, advance: (ms: number) => ((now += ms), a.tick()) };
}

describe("AuditAssembler: the records of one audit event become one event", () => {
  it("joins an exec's records on EOE, SYSCALL first, EOE dropped", () => {
    const { a, out } = harness();
    for (const r of exec(10)) a.push(r);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ recordType: "SYSCALL", serial: 10, fields: { exe: "/usr/bin/curl", key: "exec" } });
    expect(out[0]!.records.map((r) => r.recordType)).toEqual(["EXECVE", "CWD", "PATH", "PATH", "PROCTITLE"]);
    expect(a.stats).toMatchObject({ records: 7, events: 1 });
  });

  it("keeps interleaved events apart (same serial, other time; other serial)", () => {
    const { a, out } = harness();
    const x = exec(1, "1700000000.100");
    const y = exec(1, "1700000000.200");
    const z = exec(2, "1700000000.100");
    for (let i = 0; i < x.length; i++) for (const r of [x[i]!, y[i]!, z[i]!]) a.push(r);
    expect(out).toHaveLength(3);
    for (const e of out) expect(e.records).toHaveLength(5);
  });

  it("a record without EOE (user space) goes out after the wait; nothing waits forever", () => {
    const { a, out, advance } = harness({ flushAfterMs: 300 });
    a.push(rec("USER_CMD", 5, `pid=1 uid=1000 msg='cwd="/home/a" cmd=6964 terminal=pts/0 res=success'`));
    advance(299);
    expect(out).toHaveLength(0);
    advance(1);
    expect(out.map((e) => e.recordType)).toEqual(["USER_CMD"]);
    expect(a.openEvents).toBe(0);
  });

  it("audit_types keeps only the listed record types; an event of none of them is not sent", () => {
    const { a, out } = harness({ keepTypes: ["syscall", "EXECVE"] });
    for (const r of exec(3)) a.push(r);
    a.push(rec("CWD", 4, `cwd="/"`));
    a.push(rec("EOE", 4, ""));
    expect(out).toHaveLength(1);
    expect(out[0]!.records.map((r) => r.recordType)).toEqual(["EXECVE"]);
    expect(a.stats.filteredRecords).toBe(5); // CWD, 2 PATH, PROCTITLE of the exec; the lone CWD
  });

  it("the rate cap drops and counts what is over it, and refills with time", () => {
    const { a, out, advance } = harness({ maxEventsPerSec: 10 });
    for (let s = 0; s < 50; s++) for (const r of exec(100 + s)) a.push(r);
    expect(out).toHaveLength(10);
    expect(a.stats.rateDropped).toBe(40);
    advance(500);
    for (let s = 0; s < 10; s++) for (const r of exec(200 + s)) a.push(r);
    expect(out).toHaveLength(15);
  });

  it("bounds a hostile flood: records per event, raw text per event, events open at once", () => {
    const { a, out } = harness({ maxOpen: 8 });
    const big = "x".repeat(7000);
    a.push(rec("SYSCALL", 1, `syscall=82 exe="/bin/mv" comm="${big}"`));
    for (let i = 0; i < 100; i++) a.push(rec("PATH", 1, `item=${i} name="${big}"`));
    a.push(rec("EOE", 1, ""));
    // MAX_AUDIT_RECORDS in all: the SYSCALL and MAX - 1 others.
    expect(out[0]!.records).toHaveLength(MAX_AUDIT_RECORDS - 1);
    expect(a.stats.overflowRecords).toBe(101 - MAX_AUDIT_RECORDS);
    const rawTotal = out[0]!.raw.length + out[0]!.records.reduce((n, r) => n + r.raw.length, 0);
    expect(rawTotal).toBeLessThanOrEqual(16 * 1024);
    // Records that never see an EOE: at most maxOpen wait; older ones go out early.
    for (let s = 10; s < 1010; s++) a.push(rec("SYSCALL", s, `syscall=2 exe="/bin/cat"`));
    expect(a.openEvents).toBe(8);
    expect(out).toHaveLength(1 + 1000 - 8);
  });
});

describe("AuditSensor volume controls, on a log file", () => {
  it("keeps only audit_types, caps the rate and says in its health what the cap dropped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-auditcap-"));
    const log = join(dir, "audit.log");
    writeFileSync(log, "");
    const got: AuditEvent[] = [];
    const sensor = new AuditSensor({ path: log, stateDir: join(dir, "state"), pollMs: 20, types: ["SYSCALL", "EXECVE"], maxEventsPerSec: 2 });
    try {
      await sensor.start({ emit: (b) => (b.$case === "audit" ? got.push(b.audit) : undefined) });
      const lines: string[] = [];
      for (let s = 1; s <= 10; s++) {
        lines.push(
          `type=SYSCALL msg=audit(1700000000.${String(s).padStart(3, "0")}:${s}): syscall=59 exe="/usr/bin/id" key="exec"`,
          `type=EXECVE msg=audit(1700000000.${String(s).padStart(3, "0")}:${s}): argc=1 a0="id"`,
          `type=CWD msg=audit(1700000000.${String(s).padStart(3, "0")}:${s}): cwd="/"`,
          `type=EOE msg=audit(1700000000.${String(s).padStart(3, "0")}:${s}): `,
        );
      }
      appendFileSync(log, lines.join("\n") + "\n");
      const deadline = Date.now() + 5000;
      while (!/dropped 8 events over the rate cap/.test(sensor.health().detail)) {
        if (Date.now() > deadline) throw new Error(`health: ${sensor.health().detail}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(got).toHaveLength(2);
      expect(got[0]!.records.map((r) => r.recordType)).toEqual(["EXECVE"]);
      expect(sensor.health()).toMatchObject({ running: true, events: 2, detail: expect.stringContaining("record types SYSCALL,EXECVE, at most 2/s") });
    } finally {
      await sensor.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
