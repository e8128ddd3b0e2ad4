import { describe, expect, it } from "vitest";
import {
  COMMAND_LIMITS as L,
  COMMAND_TYPES,
  CommandParamError,
  type CommandType,
  ControllerMessage,
  canonicalParamsJson,
  readsFileContents,
  signedCommandFields,
  toWireCommand,
  undoOf,
  validateCommandParams,
  validatePresetParams,
} from "@vigil/proto";

/** A valid command of every type (a type added to the contract without one here does not compile). */
const SAMPLES: Record<CommandType, Record<string, unknown>> = {
  isolate: { allowCidrs: ["10.0.0.0/8", "2001:db8::/32"], reason: "incident é 😀" },
  release: {},
  kill_process: { pid: 4242, startTimeMs: 1_700_000_000_000, startTicks: 123, tree: false, reason: "r" },
  terminate_session: { user: "alice", tty: "pts/3" },
  block_ip: { ip: "203.0.113.0/24", ttlSeconds: L.blockTtlMaxSeconds },
  unblock_ip: { ip: "203.0.113.0/24", reason: "done" },
  collect_evidence: { processes: true, connections: false, openFilesPid: 1, sha256Paths: ["/usr/bin/ls"], filePath: "/etc/hostname", fileMaxBytes: L.evidenceFileMaxBytes, reason: "why" },
};

/** The field and the bound a refusal names, or "ok". */
function verdict(type: string, params: unknown): string {
  try {
    validateCommandParams(type, params);
    return "ok";
  } catch (e) {
    if (e instanceof CommandParamError) return e.message;
    throw e;
  }
}

describe("the shared command contract", () => {
  it("names the field and the bound in every refusal", () => {
    expect(verdict("kill_process", { pid: 1, startTicks: 1 })).toBe(`pid: must be an integer in [2, ${L.pidMax}]`);
    expect(verdict("kill_process", { pid: 100 })).toBe("startTimeMs: is required (or startTicks) so a recycled pid is never hit");
    expect(verdict("block_ip", { ip: "1.2.3.4; flush ruleset" })).toMatch(/^ip: not an IP address or CIDR/);
    expect(verdict("block_ip", { ip: "10.0.0.0/33" })).toMatch(/^ip: bad prefix length/);
    expect(verdict("block_ip", { ip: "192.0.2.1", ttlSeconds: L.blockTtlMaxSeconds + 1 })).toBe(`ttlSeconds: must be an integer in [1, ${L.blockTtlMaxSeconds}]`);
    expect(verdict("isolate", { allowCidrs: Array.from({ length: L.allowCidrsMax + 1 }, () => "10.0.0.0/8") })).toBe(`allowCidrs: must be a list of at most ${L.allowCidrsMax} items`);
    expect(verdict("isolate", { allowCidrs: ["10.0.0.0/8", "nope"] })).toMatch(/^allowCidrs\[1\]: not an IP/);
    expect(verdict("isolate", { reason: "r".repeat(L.reasonMaxChars + 1) })).toBe(`reason: must be a non-empty string of at most ${L.reasonMaxChars} characters`);
    expect(verdict("terminate_session", { user: "root" })).toBe("tty: is required with the other");
    expect(verdict("terminate_session", { sessionId: "3", sshdPid: 99 })).toBe("params: give exactly one of sessionId, sshdPid, or user + tty");
    expect(verdict("collect_evidence", {})).toMatch(/^params: request at least one of/);
    expect(verdict("collect_evidence", { sha256Paths: [] })).toMatch(/^params: request at least one of/);
    expect(verdict("collect_evidence", { filePath: "/etc/hostname" })).toMatch(/^reason: required \(non-empty\)/);
    expect(verdict("collect_evidence", { filePath: "/etc/../etc/shadow", reason: "x" })).toBe("filePath: must not contain . or .. components: give the canonical path");
    expect(verdict("release", { reason: "ok", extra: 1 })).toBe("extra: unknown parameter for release; allowed: reason");
    expect(verdict("wipe_disk", {})).toMatch(/^type: unknown command type "wipe_disk"; expected one of isolate, release/);
    expect(verdict("isolate", [])).toBe("params: must be a JSON object");
    // A caller-chosen key is echoed only in part.
    expect(verdict("isolate", { ["k".repeat(10_000)]: 1 }).length).toBeLessThan(200);
  });

  it("refuses oversized input by its size before walking it", () => {
    // A list far over its bound and a string far over its bound are refused on their length alone.
    expect(verdict("collect_evidence", { sha256Paths: new Array<string>(1_000_000).fill("/x") })).toBe(`sha256Paths: must be a list of at most ${L.sha256PathsMax} items`);
    expect(verdict("collect_evidence", { filePath: "/" + "a".repeat(10 * 1024 * 1024), reason: "x" })).toBe(`filePath: longer than ${L.pathMaxBytes} bytes (COMMAND_LIMITS.pathMaxBytes)`);
  });

  it("returns the typed message and a canonical JSON independent of the caller's key order", () => {
    const a = validateCommandParams("kill_process", { reason: "r", tree: true, startTicks: 5, pid: 42 });
    const b = validateCommandParams("kill_process", { pid: 42, startTicks: 5, tree: true, reason: "r" });
    expect(a).toEqual({ pid: 42, startTicks: 5, tree: true, reason: "r" });
    expect(canonicalParamsJson("kill_process", a)).toBe('{"pid":42,"startTicks":5,"tree":true,"reason":"r"}');
    expect(canonicalParamsJson("kill_process", b)).toBe(canonicalParamsJson("kill_process", a));
    // Lists are always present in the typed message, and left out of the JSON when empty.
    expect(validateCommandParams("isolate", {})).toEqual({ allowCidrs: [] });
    expect(canonicalParamsJson("isolate", validateCommandParams("isolate", {}))).toBe("{}");
  });

  it("undo, file contents and preset params come from the same table", () => {
    expect(undoOf("isolate", validateCommandParams("isolate", {}))).toEqual({ type: "release", params: {} });
    expect(undoOf("block_ip", validateCommandParams("block_ip", { ip: "192.0.2.9", ttlSeconds: 5 }))).toEqual({ type: "unblock_ip", params: { ip: "192.0.2.9" } });
    expect(undoOf("kill_process", validateCommandParams("kill_process", { pid: 9, startTicks: 1 }))).toBeUndefined();
    expect(readsFileContents("collect_evidence", validateCommandParams("collect_evidence", { filePath: "/etc/hostname", reason: "why" }))).toBe(true);
    expect(readsFileContents("collect_evidence", validateCommandParams("collect_evidence", { sha256Paths: ["/etc/hostname"] }))).toBe(false);
    expect(() => validatePresetParams("block_ip", { ttlSeconds: 60 })).not.toThrow(); // ip comes from the alert
    expect(() => validatePresetParams("block_ip", { ttlSeconds: 0 })).toThrow(/^ttlSeconds/);
  });

  it("every type survives the protobuf wire: the agent rebuilds exactly the JSON the controller signed", () => {
    for (const type of COMMAND_TYPES) {
      const paramsJson = canonicalParamsJson(type, validateCommandParams(type, SAMPLES[type]));
      const sent = toWireCommand({ id: `c-${type}`, agentId: "a1", type, paramsJson, issuedAtMs: 1, expiresAtMs: 2 }, Buffer.alloc(64));
      expect(sent.params?.$case, type).toBeDefined();
      const m = ControllerMessage.decode(ControllerMessage.encode({ msg: { $case: "command", command: { ...sent, type: "", paramsJson: "" } } }).finish());
      if (m.msg?.$case !== "command") throw new Error("not a command");
      expect(signedCommandFields(m.msg.command), type).toEqual({ ok: true, type, paramsJson, typed: true });
    }
  });

  it("refuses strings the wire would rewrite (a lone surrogate becomes U+FFFD in UTF-8)", () => {
    expect(verdict("isolate", { reason: "bad \uD800 half" })).toBe("reason: must be valid Unicode (no lone surrogates)");
    expect(verdict("collect_evidence", { sha256Paths: ["/tmp/\uDC00"] })).toBe("sha256Paths[0]: must be valid Unicode (no lone surrogates)");
  });

  it("sends the typed oneof only when the stored JSON is canonical (older stored commands go out legacy-only)", () => {
    const base = { id: "c1", agentId: "a1", type: "block_ip", issuedAtMs: 1, expiresAtMs: 2 };
    const sig = Buffer.alloc(64);
    expect(toWireCommand({ ...base, paramsJson: '{"ip":"192.0.2.1","ttlSeconds":60}' }, sig).params).toEqual({ $case: "blockIp", blockIp: { ip: "192.0.2.1", ttlSeconds: 60 } });
    expect(toWireCommand({ ...base, paramsJson: '{"ttlSeconds":60,"ip":"192.0.2.1"}' }, sig).params).toBeUndefined();
    const unknown = toWireCommand({ ...base, type: "format_disk", paramsJson: "{}" }, sig);
    expect(unknown).toMatchObject({ type: "format_disk", paramsJson: "{}" });
    expect(unknown.params).toBeUndefined();
  });
});
