import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandStatus, Event, ProcessAction, type PolicyUpdate, policySigningPayload } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { ActionPlanner, PolicyStore } from "../../src/policy";
import { PinnedKeyMismatch, pinOrVerify } from "../../src/runtime/pinned-key";
import { MAX_CACHED_RESULTS, ResultCache } from "../../src/runtime/result-cache";
import { markerPolicy } from "./marker-policy";

const dir = () => mkdtempSync(join(tmpdir(), "vigil-resp-unit-"));
function keypair() {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const spki = publicKey.export({ format: "der", type: "spki" });
  const raw = Buffer.from(spki.subarray(spki.length - 32));
  const policy = (agentId: string, version: number, doc: Record<string, unknown> = markerPolicy(version, "m")): PolicyUpdate => {
    const u = { version, policyJson: JSON.stringify(doc), issuedAtMs: Date.now() };
    return { ...u, signature: sign(null, policySigningPayload(u, agentId), privateKey) };
  };
  return { raw, policy };
}

describe("pinned controller key", () => {
  it("pins on first use (0600), accepts the same key, refuses another", () => {
    const d = dir();
    const a = keypair().raw;
    expect(pinOrVerify(d, a).firstUse).toBe(true);
    expect(statSync(join(d, "controller-command-key")).mode & 0o777).toBe(0o600);
    expect(pinOrVerify(d, a).firstUse).toBe(false);
    expect(() => pinOrVerify(d, keypair().raw)).toThrow(PinnedKeyMismatch);
  });
});

describe("policy store", () => {
  it("accepts newer signed policies only, ignores a re-push, and re-verifies what is on disk", () => {
    const d = dir();
    const k = keypair();
    const store = new PolicyStore(d, "a1");
    expect(store.offer(k.policy("a2", 1), k.raw)).toMatchObject({ kind: "refused", reason: expect.stringMatching(/^bad_signature/) });
    expect(store.offer(k.policy("a1", 3), keypair().raw).kind).toBe("refused");
    const v3 = k.policy("a1", 3);
    expect(store.offer(v3, k.raw).kind).toBe("accepted");
    expect(store.offer(v3, k.raw).kind).toBe("unchanged");
    expect(store.offer(k.policy("a1", 2), k.raw)).toMatchObject({ kind: "refused", reason: expect.stringMatching(/not newer/) });
    expect(store.offer(k.policy("a1", 4, markerPolicy(5, "m")), k.raw)).toMatchObject({ kind: "refused", reason: expect.stringMatching(/differs/) });
    expect(new PolicyStore(d, "a1").load(k.raw)?.version).toBe(3);
    // Edited on the host: no longer verifies, so it is not loaded.
    const file = join(d, "local-policy.json");
    const stored = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify({ ...stored, policyJson: stored.policyJson.replace('"isolate"', '"block_ip"') }));
    expect(() => new PolicyStore(d, "a1").load(k.raw)).toThrow(/bad_signature/);
  });
});

describe("local action planner", () => {
  const proc = (pid: number, start: number): Event =>
    Event.fromPartial({
      seq: 1,
      eventTimeMs: start,
      body: {
        $case: "process",
        process: {
          action: ProcessAction.PROCESS_ACTION_START,
          pid,
          ppid: 1,
          exe: "/bin/sh",
          commandLine: "sh",
          user: "root",
          uid: 0,
          cwd: "/",
          startTimeMs: start,
          sha256: "",
          parentExe: "",
          parentCommandLine: "",
          name: "sh",
          exeDeleted: false,
          exitCode: 0,
        },
      },
    });
  const hit = { ruleId: "r", title: "t", actions: [] };

  it("kills a process once, isolates once, and refuses to guess a process from a pid alone", () => {
    let isolated = false;
    const p = new ActionPlanner({ isIsolated: () => isolated });
    const k1 = p.plan(hit, { type: "kill_process", params: {} }, proc(42, 1000));
    expect(k1).toMatchObject({ kind: "run", action: { type: "kill_process", params: { pid: 42, startTimeMs: 1000, tree: true } } });
    expect(p.plan(hit, { type: "kill_process", params: {} }, proc(42, 1000)).kind).toBe("skip");
    expect(p.plan(hit, { type: "kill_process", params: { tree: false } }, proc(42, 2000))).toMatchObject({ kind: "run", action: { params: { tree: false } } });
    const i1 = p.plan(hit, { type: "isolate", params: {} }, proc(1, 1));
    expect(i1.kind).toBe("run");
    expect(p.plan(hit, { type: "isolate", params: {} }, proc(1, 1)).kind).toBe("skip");
    if (i1.kind === "run") p.finished(i1.dedupKey, "isolate", true);
    isolated = true;
    expect(p.plan(hit, { type: "isolate", params: {} }, proc(1, 1)).kind).toBe("skip");
    const net: Event = { seq: 2, eventTimeMs: 1, body: { $case: "network", network: { pid: 42 } as never } };
    expect(p.plan(hit, { type: "kill_process", params: {} }, net)).toMatchObject({ kind: "fail", reason: expect.stringMatching(/recycled/) });
  });
});

describe("result cache", () => {
  it("answers only the identical command, survives a restart, and stays bounded", () => {
    const d = dir();
    const r = { commandId: "c1", type: "isolate", local: false, status: CommandStatus.COMMAND_STATUS_SUCCEEDED, reason: "", outputJson: "{}", finishedAtMs: 1 };
    const c = new ResultCache(d);
    c.put("c1", "digest-a", Date.now() + 60_000, r);
    expect(new ResultCache(d).get("c1", "digest-a")).toEqual(r);
    expect(new ResultCache(d).get("c1", "digest-b")).toBeUndefined();
    c.put("old", "x", Date.now() - 1, r);
    expect(c.get("old", "x")).toBeUndefined();
    for (let i = 0; i < MAX_CACHED_RESULTS + 10; i++) c.put(`n${i}`, "d", Date.now() + 60_000, r);
    expect(c.size()).toBe(MAX_CACHED_RESULTS);
    expect(c.get("c1", "digest-a")).toBeUndefined();
  });
});
