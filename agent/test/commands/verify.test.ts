import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BlockIp, type Command, ControllerMessage } from "@vigil/proto";
import { afterAll, describe, expect, it } from "vitest";
import { CommandVerifier, ed25519PublicKeyFromRaw } from "../../src/commands/verify";
import { testSigner } from "./signer";

const dirs: string[] = [];
const stateDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "vigil-verify-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const AGENT = "agent-1";
const controller = testSigner();

describe("CommandVerifier", () => {
  it("accepts a correctly signed, current command for this agent and hands back its params", () => {
    const v = new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: stateDir() });
    const out = v.verify(controller.command({ agentId: AGENT, type: "kill_process", paramsJson: '{"pid":42}' }));
    expect(out).toEqual({ ok: true, type: "kill_process", params: { pid: 42 } });
  });

  it("refuses a forged signature, a tampered field and a truncated signature", () => {
    const v = new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: stateDir() });
    const forged = testSigner().command({ agentId: AGENT, type: "isolate" });
    expect(v.verify(forged)).toMatchObject({ ok: false, code: "bad_signature" });
    const good = controller.command({ agentId: AGENT, type: "block_ip", paramsJson: '{"ip":"192.0.2.1"}' });
    expect(v.verify({ ...good, paramsJson: '{"ip":"10.0.0.1"}' })).toMatchObject({ ok: false, code: "bad_signature" });
    expect(v.verify({ ...good, expiresAtMs: good.expiresAtMs + 3600_000 })).toMatchObject({ ok: false, code: "bad_signature" });
    expect(v.verify({ ...good, signature: good.signature.subarray(0, 63) })).toMatchObject({ ok: false, code: "bad_signature" });
    // None of the refused ones burned the id: the genuine command still runs.
    expect(v.verify(good).ok).toBe(true);
  });

  it("refuses a validly signed command addressed to another agent", () => {
    const v = new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: stateDir() });
    expect(v.verify(controller.command({ agentId: "agent-2", type: "isolate" }))).toMatchObject({ ok: false, code: "wrong_agent" });
  });

  it("refuses expired and future commands, allowing the configured clock skew", () => {
    const now = 1_700_000_000_000;
    const v = new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: stateDir(), clockSkewMs: 5000, now: () => now });
    const at = (issued: number, expires: number) => controller.command({ agentId: AGENT, type: "isolate", issuedAtMs: now + issued, expiresAtMs: now + expires });
    expect(v.verify(at(-120_000, -60_000))).toMatchObject({ ok: false, code: "expired" });
    expect(v.verify(at(-120_000, -4_000)).ok).toBe(true); // within skew
    expect(v.verify(at(60_000, 120_000))).toMatchObject({ ok: false, code: "not_yet_valid" });
    expect(v.verify(at(3_000, 120_000)).ok).toBe(true);
    expect(v.verify(at(0, 30 * 86_400_000))).toMatchObject({ ok: false, code: "malformed", reason: expect.stringMatching(/validity window/) });
  });

  it("refuses a replayed id, also after an agent restart (the store is persisted)", () => {
    const dir = stateDir();
    const v = new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: dir });
    const cmd = controller.command({ agentId: AGENT, type: "isolate" });
    expect(v.verify(cmd).ok).toBe(true);
    expect(v.verify(cmd)).toMatchObject({ ok: false, code: "replayed" });
    const restarted = new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: dir });
    expect(restarted.verify(cmd)).toMatchObject({ ok: false, code: "replayed" });
  });

  it("keeps the replay store bounded by pruning ids once their command has expired", () => {
    let now = 1_700_000_000_000;
    const dir = stateDir();
    const v = new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: dir, clockSkewMs: 1000, now: () => now });
    for (let i = 0; i < 100; i++) expect(v.verify(controller.command({ agentId: AGENT, type: "isolate", issuedAtMs: now, expiresAtMs: now + 10_000 })).ok).toBe(true);
    expect(v.replayEntries()).toBe(100);
    now += 10_000 + 1001;
    const fresh = controller.command({ agentId: AGENT, type: "isolate", issuedAtMs: now, expiresAtMs: now + 10_000 });
    expect(v.verify(fresh).ok).toBe(true);
    expect(v.replayEntries()).toBe(1);
    // The pruned file is what a restarted agent loads.
    expect(new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: dir, now: () => now }).replayEntries()).toBe(1);
  });

  it("refuses a replay after the clock ran ahead, pruned its id, and went back (also across a restart)", () => {
    const t0 = 1_700_000_000_000;
    let now = t0;
    const dir = stateDir();
    const opts = { controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: dir, clockSkewMs: 1000, now: () => now };
    const v = new CommandVerifier(opts);
    const cmd = controller.command({ agentId: AGENT, type: "isolate", issuedAtMs: t0, expiresAtMs: t0 + 60_000 });
    expect(v.verify(cmd).ok).toBe(true);
    // The clock jumps a day ahead; another command runs, which prunes the first id.
    now = t0 + 86_400_000;
    expect(v.verify(controller.command({ agentId: AGENT, type: "isolate", issuedAtMs: now, expiresAtMs: now + 60_000 })).ok).toBe(true);
    expect(v.replayEntries()).toBe(1);
    // Back to the time of the first command: by the current clock it is valid again, and its id is gone.
    now = t0 + 10_000;
    expect(v.verify(cmd)).toMatchObject({ ok: false, code: "expired", reason: expect.stringMatching(/highest clock this agent has seen.*gone back/) });
    // The high-water mark is persisted: a restarted agent with the rolled-back clock refuses it too.
    expect(new CommandVerifier(opts).verify(cmd)).toMatchObject({ ok: false, code: "expired" });
  });

  it("reads a replay file written before the high-water mark existed", () => {
    const now = 1_700_000_000_000;
    const dir = stateDir();
    const cmd = controller.command({ agentId: AGENT, type: "isolate", issuedAtMs: now, expiresAtMs: now + 60_000 });
    writeFileSync(join(dir, "seen-commands.json"), JSON.stringify({ [cmd.id]: cmd.expiresAtMs }));
    const v = new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: dir, now: () => now });
    expect(v.verify(cmd)).toMatchObject({ ok: false, code: "replayed" });
  });

  it("refuses malformed ids, types and params with a clear reason", () => {
    const v = new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: stateDir() });
    expect(v.verify(controller.command({ agentId: AGENT, type: "isolate", paramsJson: "{nope" }))).toMatchObject({ code: "malformed", reason: "params are not valid JSON" });
    expect(v.verify(controller.command({ agentId: AGENT, type: "isolate", paramsJson: "[1]" }))).toMatchObject({ code: "malformed", reason: "params must be a JSON object" });
    expect(v.verify(controller.command({ agentId: AGENT, type: "isolate", id: "" }))).toMatchObject({ code: "malformed" });
    expect(v.verify(controller.command({ agentId: AGENT, type: "Isolate; rm" }))).toMatchObject({ code: "malformed" });
    expect(v.verify(controller.command({ agentId: AGENT, type: "isolate", paramsJson: `{"x":"${"a".repeat(40_000)}"}` }))).toMatchObject({ code: "malformed" });
  });

  it("rejects a pinned key of the wrong size and a corrupt replay file instead of running unprotected", () => {
    expect(() => ed25519PublicKeyFromRaw(Buffer.alloc(31))).toThrow(/32 bytes/);
    const dir = stateDir();
    writeFileSync(join(dir, "seen-commands.json"), "{broken");
    expect(() => new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: dir })).toThrow(/corrupt state file/);
  });
});

describe("CommandVerifier with typed params (Command.params oneof)", () => {
  const verifier = () => new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: stateDir() });
  /** Through the real protobuf encoding, as the transport hands it over (absent optionals, empty lists). */
  const overTheWire = (cmd: Command): Command => {
    const m = ControllerMessage.decode(ControllerMessage.encode({ msg: { $case: "command", command: cmd } }).finish());
    if (m.msg?.$case !== "command") throw new Error("not a command");
    return m.msg.command;
  };

  it("verifies a typed command after a protobuf round trip and hands back the typed params", () => {
    const cmd = overTheWire(controller.typedCommand({ agentId: AGENT, type: "kill_process", params: { pid: 42, startTicks: 7, tree: true } }));
    expect(cmd.params).toEqual({ $case: "killProcess", killProcess: { pid: 42, startTicks: 7, tree: true, startTimeMs: undefined, reason: undefined } });
    expect(verifier().verify(cmd)).toEqual({ ok: true, type: "kill_process", params: { pid: 42, startTicks: 7, tree: true } });
    const isolate = overTheWire(controller.typedCommand({ agentId: AGENT, type: "isolate", params: {} }));
    expect(verifier().verify(isolate)).toEqual({ ok: true, type: "isolate", params: {} });
  });

  it("refuses a command whose typed field was tampered with, even though params_json is untouched", () => {
    const v = verifier();
    const good = controller.typedCommand({ agentId: AGENT, type: "block_ip", params: { ip: "192.0.2.1", ttlSeconds: 60 } });
    if (good.params?.$case !== "blockIp") throw new Error("expected typed block_ip");
    const signed = good.params.blockIp;
    const tamper = (change: Partial<BlockIp>): Command => overTheWire({ ...good, params: { $case: "blockIp", blockIp: { ...signed, ...change } } });
    expect(v.verify(tamper({ ip: "10.0.0.0/8" }))).toMatchObject({ ok: false, code: "bad_signature" });
    expect(v.verify(tamper({ ttlSeconds: 2_592_000 }))).toMatchObject({ ok: false, code: "bad_signature" });
    expect(v.verify(tamper({ reason: "added later" }))).toMatchObject({ ok: false, code: "bad_signature" });
    // Another command type with the same field values: the case is signed too.
    expect(v.verify(overTheWire({ ...good, type: "", params: { $case: "unblockIp", unblockIp: { ip: "192.0.2.1" } } }))).toMatchObject({ ok: false, code: "bad_signature" });
    // None burned the id: the genuine one runs.
    expect(v.verify(overTheWire(good))).toMatchObject({ ok: true, type: "block_ip", params: { ip: "192.0.2.1", ttlSeconds: 60 } });
  });

  it("prefers the oneof: a rewritten params_json beside intact typed params is ignored, not run", () => {
    const good = controller.typedCommand({ agentId: AGENT, type: "block_ip", params: { ip: "192.0.2.1" } });
    expect(verifier().verify(overTheWire({ ...good, paramsJson: '{"ip":"0.0.0.0/0"}' }))).toEqual({ ok: true, type: "block_ip", params: { ip: "192.0.2.1" } });
  });

  it("refuses a legacy type that contradicts the params case, and still verifies a command stripped to its legacy fields", () => {
    const good = controller.typedCommand({ agentId: AGENT, type: "isolate", params: { allowCidrs: ["10.1.0.0/16"] } });
    expect(verifier().verify({ ...good, type: "release" })).toMatchObject({ ok: false, code: "malformed", reason: expect.stringMatching(/does not match the params \(isolate\)/) });
    // What an agent before the oneof sees: the same signed content, so nothing is gained by stripping it.
    expect(verifier().verify(overTheWire({ ...good, params: undefined }))).toEqual({ ok: true, type: "isolate", params: { allowCidrs: ["10.1.0.0/16"] } });
  });
});
