import { statSync } from "node:fs";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GENESIS_HASH, recordHash, type AuditRecord } from "../../src/audit/audit-chain";
import { AuditRepository } from "../../src/database/repositories/audit-repository";
import { checkpointPath } from "../../src/audit/audit-checkpoints";
import { auditKeyPath, loadAuditKey } from "../../src/audit/audit-key";
import { canonicalJson } from "../../src/audit/canonical-json";
import { createLogger } from "../../src/logging/logger";
import { main } from "../../src/main";
import { createPgDatabase, startTestController, type TestController } from "../support/controller";

/**
 * Issue #10 class 4, second half: editing a row and re-hashing everything after
 * it, or deleting the newest rows, passed `audit verify`. The chain is now keyed
 * (HMAC, key outside the database) and its head checkpointed outside it.
 */
async function cliVerify(ctl: TestController, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  let out = "";
  const write = process.stdout.write.bind(process.stdout);
  const saved = { ...process.env };
  Object.assign(process.env, env);
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  try {
    const code = await main(["audit", "verify", "--database", ctl.config.databaseUrl, "--data-dir", ctl.dir]);
    return { code, out };
  } finally {
    process.stdout.write = write;
    process.env = saved;
  }
}

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(`audit chain against rewriting (${dialect})`, () => {
    let ctl: TestController;
    let drop: (() => Promise<void>) | undefined;
    const logLines: string[] = [];
    const p = (i: number) => (dialect === "postgres" ? `$${i}` : "?");
    const rows = async (fromSeq: number): Promise<AuditRecord[]> => {
      const out: AuditRecord[] = [];
      for await (const r of ctl.audit.scan()) if (r.seq >= fromSeq) out.push(r);
      return out;
    };
    /** What an attacker with database access but not the key does: edit, then recompute every hash from there on. */
    const editAndRehash = async (seq: number, details: string, key?: Buffer) => {
      const all = await rows(seq - 1);
      let prev = all[0]!.seq === seq ? all[0]!.prevHash : all[0]!.hash;
      for (const r of all.filter((x) => x.seq >= seq)) {
        const next = { ...r, details: r.seq === seq ? details : r.details, prevHash: prev };
        const hash = recordHash(next, key);
        await ctl.dataSource.query(`UPDATE audit_log SET details = ${p(1)}, prev_hash = ${p(2)}, hash = ${p(3)} WHERE seq = ${r.seq}`, [next.details, prev, hash]);
        prev = hash;
      }
    };
    const restore = async (saved: AuditRecord[]) => {
      for (const r of saved) await ctl.dataSource.query(`UPDATE audit_log SET details = ${p(1)}, prev_hash = ${p(2)}, hash = ${p(3)} WHERE seq = ${r.seq}`, [r.details, r.prevHash, r.hash]);
    };

    beforeAll(async () => {
      let databaseUrl: string | undefined;
      if (dialect === "postgres") {
        const db = await createPgDatabase();
        databaseUrl = db.url;
        drop = db.drop;
      }
      const sink = new Writable({ write: (chunk, _enc, cb) => (logLines.push(String(chunk)), cb()) });
      ctl = await startTestController({ databaseUrl, logger: createLogger("info", sink) });
      for (let i = 0; i < 20; i++) await ctl.audit.append({ actor: "test", action: "test.tamper", target: `t${i}`, details: { i } });
      await ctl.audit.idle();
    });
    afterAll(async () => {
      await ctl?.dispose();
      await drop?.();
    });

    it("the key and the checkpoints live outside the database, readable by the owner only; checkpoints reach the log", async () => {
      expect(statSync(auditKeyPath(ctl.dir)).mode & 0o777).toBe(0o600);
      expect(statSync(checkpointPath(ctl.dir)).mode & 0o777).toBe(0o600);
      const head = (await ctl.audit.query({ limit: 1 }))[0]!;
      expect(logLines.some((l) => l.includes('"audit checkpoint"') && l.includes(`"seq":${head.seq}`) && l.includes(head.hash))).toBe(true);
      const v = await ctl.audit.verify();
      expect(v).toMatchObject({ ok: true, headSeq: head.seq, keyedFrom: 1, checkpoint: { seq: head.seq } });
    });

    it("an edited row re-hashed onwards without the key is reported at that row (API and CLI)", async () => {
      const target = (await ctl.audit.query({ action: "test.tamper", limit: 1 }))[0]!.seq - 8;
      const saved = await rows(target);
      await editAndRehash(target, canonicalJson({ i: 999 }));
      const api = (await ctl.get("/api/v1/audit/verify")).body;
      expect(api).toMatchObject({ ok: false, brokenAt: target });
      expect(api.reason).toMatch(/without the audit key/);
      const cli = await cliVerify(ctl);
      expect(cli.code).toBe(1);
      expect(cli.out).toContain(`BROKEN at seq ${target}`);
      // The same with a guessed key.
      await editAndRehash(target, canonicalJson({ i: 998 }), Buffer.alloc(32, 7));
      expect(await ctl.audit.verify()).toMatchObject({ ok: false, brokenAt: target });
      await restore(saved);
      expect((await ctl.audit.verify()).ok).toBe(true);
    });

    it("re-hashing the whole chain as an unkeyed one from genesis is reported at the first record", async () => {
      const saved = await rows(1);
      let prev = GENESIS_HASH;
      for (const r of saved) {
        const hash = recordHash({ ...r, prevHash: prev });
        await ctl.dataSource.query(`UPDATE audit_log SET prev_hash = ${p(1)}, hash = ${p(2)} WHERE seq = ${r.seq}`, [prev, hash]);
        prev = hash;
      }
      expect(await ctl.audit.verify()).toMatchObject({ ok: false, brokenAt: 1 });
      await restore(saved);
      expect((await ctl.audit.verify()).ok).toBe(true);
    });

    it("a verifier with another key says so", async () => {
      const cli = await cliVerify(ctl, { VIGIL_AUDIT_KEY: "x".repeat(40) });
      expect(cli.code).toBe(1);
      expect(cli.out).toMatch(/BROKEN at seq 1: .*another audit key|BROKEN at seq 1: .*without the audit key/);
    });

    it("verify without the key refuses to guess and says why", async () => {
      const { mkdtempSync, rmSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const path = await import("node:path");
      const empty = mkdtempSync(path.join(tmpdir(), "vigil-nokey-"));
      let err = "";
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string) => ((err += chunk), true)) as typeof process.stderr.write;
      try {
        expect(await main(["audit", "verify", "--database", ctl.config.databaseUrl, "--data-dir", empty])).toBe(2);
      } finally {
        process.stderr.write = write;
        rmSync(empty, { recursive: true, force: true });
      }
      expect(err).toMatch(/no audit key/);
    });

    it("deleting the newest rows is reported as truncation, naming the first missing record", async () => {
      const head = (await ctl.audit.query({ limit: 1 }))[0]!.seq;
      await ctl.dataSource.query(`DELETE FROM audit_log WHERE seq > ${head - 3}`);
      const v = await ctl.audit.verify();
      expect(v).toMatchObject({ ok: false, brokenAt: head - 2 });
      if (!v.ok) expect(v.reason).toMatch(/truncated/);
      const cli = await cliVerify(ctl);
      expect(cli.code).toBe(1);
      expect(cli.out).toContain(`BROKEN at seq ${head - 2}`);
      // Appending past the old head afterwards does not hide it: no checkpoint extends one whose record was replaced.
      for (let i = 0; i < 6; i++) await ctl.audit.append({ actor: "test", action: "test.after", details: { i } });
      await ctl.audit.idle();
      expect(await ctl.audit.verify()).toMatchObject({ ok: false, brokenAt: head });
      expect(logLines.some((l) => l.includes("no new checkpoint until the chain is investigated"))).toBe(true);
    });
  });
}

describe("audit chain: an unkeyed chain from an older version", () => {
  let ctl: TestController;
  afterAll(async () => ctl?.dispose());

  it("is verified the old way up to the cut-over marker and keyed from there; edits on either side are found", async () => {
    ctl = await startTestController();
    await ctl.audit.idle();
    // Replace the trail with what an older version wrote: plain sha256 links, no marker, no checkpoint.
    await ctl.dataSource.query("DELETE FROM audit_log");
    const { rmSync } = await import("node:fs");
    rmSync(checkpointPath(ctl.dir), { force: true });
    let prev = GENESIS_HASH;
    for (let seq = 1; seq <= 5; seq++) {
      const base = { seq, time: 1_700_000_000_000 + seq, actor: "cli", action: "legacy.record", target: "", details: canonicalJson({ seq }), prevHash: prev };
      const hash = recordHash(base);
      await ctl.dataSource.query("INSERT INTO audit_log (seq, time, actor, action, target, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
        seq,
        base.time,
        base.actor,
        base.action,
        base.target,
        base.details,
        prev,
        hash,
      ]);
      prev = hash;
    }
    // A fresh AuditLog (the upgraded controller after restart) with the data dir's key.
    const { AuditLog } = await import("../../src/audit/audit-log");
    const { AuditCheckpoints } = await import("../../src/audit/audit-checkpoints");
    const audit = new AuditLog(AuditRepository.of(ctl.dataSource), { key: loadAuditKey(ctl.dir, undefined), checkpoints: new AuditCheckpoints(checkpointPath(ctl.dir)) });
    expect(await audit.verify()).toMatchObject({ ok: true, keyedFrom: null, warning: expect.stringMatching(/legacy/) });
    await audit.append({ actor: "test", action: "after.upgrade", details: {} });
    await audit.idle();
    const v = await audit.verify();
    expect(v).toMatchObject({ ok: true, records: 7, keyedFrom: 6, headSeq: 7 });
    // Rewriting the legacy part consistently (it is unkeyed) breaks the keyed marker's link.
    await ctl.dataSource.query("UPDATE audit_log SET details = ? WHERE seq = 3", [canonicalJson({ seq: 333 })]);
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 3 });
    let p2 = (await ctl.dataSource.query("SELECT hash FROM audit_log WHERE seq = 2"))[0].hash as string;
    for (let seq = 3; seq <= 5; seq++) {
      const [r] = await ctl.dataSource.query("SELECT * FROM audit_log WHERE seq = ?", [seq]);
      const hash = recordHash({ seq, time: Number(r.time), actor: r.actor, action: r.action, target: r.target, details: r.details, prevHash: p2 });
      await ctl.dataSource.query("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", [p2, hash, seq]);
      p2 = hash;
    }
    expect(await audit.verify()).toMatchObject({ ok: false, brokenAt: 6 });
    await audit.stop();
  });
});
