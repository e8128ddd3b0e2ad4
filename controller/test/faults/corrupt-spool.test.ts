import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { openEventDb, type EventDb } from "../support/event-db";
import { startSyntheticAgent, waitForAgentId, waitProduced, type SyntheticAgentOptions } from "../support/synthetic-agent";
import { TcpProxy } from "../support/tcp-proxy";
import { waitFor } from "../support/wait";
import { ledger, settle } from "./exactly-once";

/** Record boundaries of a spool segment (u32 bodyLen, u32 crc, body starting with the u64 seq; see agent/src/spool/record.ts). */
function records(file: string): Array<{ offset: number; size: number; seq: number }> {
  const b = readFileSync(file);
  const out: Array<{ offset: number; size: number; seq: number }> = [];
  for (let off = 0; off + 8 <= b.length;) {
    const size = 8 + b.readUInt32LE(off);
    if (size <= 8 || off + size > b.length) break;
    out.push({ offset: off, size, seq: b.readUInt32LE(off + 8) + b.readUInt32LE(off + 12) * 2 ** 32 });
    off += size;
  }
  return out;
}

function lastSegment(stateDir: string): string {
  const dir = join(stateDir, "spool");
  const segs = readdirSync(dir)
    .filter((f) => /^\d{12,}\.seg$/.test(f))
    .sort();
  return join(dir, segs.at(-1)!);
}

const FIRST = 3000;
const TOTAL = 4000;

describe("fault: corrupt spool tail while the agent is stopped", () => {
  let ctl: TestController;
  let db: EventDb;
  let proxy: TcpProxy;
  const agents: AgentProcess[] = [];
  beforeAll(async () => {
    ctl = await startTestController();
    db = await openEventDb(ctl.config.databaseUrl);
    proxy = await new TcpProxy({ host: "127.0.0.1", port: ctl.grpcPort }).start();
  });
  afterAll(async () => {
    for (const a of agents) await a.stop("SIGKILL");
    await proxy?.close();
    await db?.close();
    await ctl?.dispose();
  });

  const cases = {
    // Power loss mid-write: the file ends inside a record.
    "truncated mid-record": (file: string, at: { offset: number; size: number }) => truncateSync(file, at.offset + Math.floor(at.size / 2)),
    // A flipped bit on disk: the record's checksum no longer matches.
    "a flipped byte": (file: string, at: { offset: number; size: number }) => {
      const b = readFileSync(file);
      b[at.offset + at.size - 3]! ^= 0x40;
      writeFileSync(file, b);
    },
  } as const;

  for (const [name, corrupt] of Object.entries(cases)) {
    it(`${name}: detected, cut at the last good record, reported in the API; the agent starts and goes on`, async () => {
      // Phase 1: controller unreachable, 3000 events spooled, agent stopped (cleanly, so the spool's
      // seq counter on disk is exact and the test can assert that cut seqs are never reused).
      proxy.setMode("refuse");
      const options: SyntheticAgentOptions = { controller: proxy.address, rate: 5000, count: FIRST, env: { VIGIL_BACKOFF_MAX_MS: "300" } };
      const first = startSyntheticAgent(options);
      agents.push(first);
      const stateDir = first.stateDir;
      await waitProduced(stateDir, FIRST, first);
      await first.stop("SIGTERM");

      const file = lastSegment(stateDir);
      const recs = records(file);
      expect(recs.at(-1)!.seq).toBe(FIRST);
      const victim = recs[recs.length - 25]!;
      corrupt(file, victim);
      const expectDiscarded = statSync(file).size - victim.offset;

      // Phase 2: restart on the same state dir, controller reachable, 1000 more numbers.
      proxy.setMode("pass");
      const second = startSyntheticAgent({ ...options, stateDir, count: TOTAL });
      agents.push(second);
      const agentId = await waitForAgentId(stateDir, second);
      const status = await settle({ agent: second, options: { ...options, stateDir, count: TOTAL }, db, agentId, expectLastSeq: 0 });
      expect(second.output()).toMatch(/spool repaired at open/);
      const l = await ledger(db, agentId, status, TOTAL);
      const lost = Array.from({ length: FIRST - victim.seq + 1 }, (_, i) => victim.seq + i);
      console.log(`corrupt spool (${name}):`, { cutAtSeq: victim.seq, discardedBytes: status.spool.discardedBytes, stored: l.stored, missingSeqs: l.missingSeqs.length, lastSeq: l.lastSeq });

      expect(status.spool.discardedBytes).toBe(expectDiscarded);
      expect(l.stored).toBe(l.distinctSeqs);
      expect(l.duplicateNumbers).toBe(0);
      expect(l.droppedTotal).toBe(0);
      // Exactly the cut records are gone; everything before them and everything produced afterwards is stored.
      const expectedNumbers = [...Array.from({ length: victim.seq - 1 }, (_, i) => i + 1), ...Array.from({ length: TOTAL - FIRST }, (_, i) => FIRST + 1 + i)];
      expect([...l.storedNumbers].sort((a, b) => a - b)).toEqual(expectedNumbers);
      // Their seqs are never reused: they show as one gap.
      expect(l.missingSeqs).toEqual(lost);

      const view = await waitFor("the API to show the discarded bytes", async () => {
        const items = (await ctl.get("/api/v1/agents")).body.items as Array<{ id: string; status: { spoolDiscardedBytes?: number }; gaps: Array<[number, number]> }>;
        const a = items?.find((x) => x.id === agentId);
        return a && a.status.spoolDiscardedBytes === expectDiscarded ? a : undefined;
      });
      expect(view.gaps).toEqual([[victim.seq, FIRST]]);
    });
  }
});
