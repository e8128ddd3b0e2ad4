import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMAND_LIMITS } from "@vigil/proto";
import { afterAll, describe, expect, it } from "vitest";
import { createEnforcement } from "../../../agent/src/enforcement/enforcement";
import { MAX_EVIDENCE_JSON_BYTES, MAX_FILE_BYTES } from "../../../agent/src/enforcement/evidence";
import { validateCommandParams } from "../../src/commands/command-params";

/**
 * The controller validates before it signs, the agent before it acts: each boundary case
 * below must get the same answer from both, so the API never accepts what every agent
 * refuses (as it once did: 16 MiB asked, 1 MiB served). Both read COMMAND_LIMITS.
 */
const stateDir = mkdtempSync(join(tmpdir(), "vigil-limits-"));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
const handlers = new Map(
  createEnforcement({
    stateDir,
    isolationPolicy: () => ({ controller: { addresses: [], port: 1 }, allowCidrs: [], dnsServers: [], allowDhcp: false }),
    checkControllerReachable: async () => true,
  }).handlers.map((h) => [h.type, h]),
);

function controllerAccepts(type: string, params: Record<string, unknown>): boolean {
  try {
    validateCommandParams(type, params);
    return true;
  } catch {
    return false;
  }
}
function agentAccepts(type: string, params: Record<string, unknown>): boolean {
  try {
    handlers.get(type)!.validate(params);
    return true;
  } catch {
    return false;
  }
}

const L = COMMAND_LIMITS;
const reason = "incident 1";
const pathOf = (bytes: number) => "/" + "a".repeat(bytes - 1);
/** Two UTF-8 bytes per character: a byte limit must not be counted in characters. */
const widePathOf = (bytes: number) => "/" + "é".repeat((bytes - 1) / 2);

const CASES: Array<[string, string, Record<string, unknown>, boolean]> = [
  ["file at the byte limit", "collect_evidence", { filePath: "/tmp/x", reason, fileMaxBytes: L.evidenceFileMaxBytes }, true],
  ["file one byte over", "collect_evidence", { filePath: "/tmp/x", reason, fileMaxBytes: L.evidenceFileMaxBytes + 1 }, false],
  ["file of 16 MiB", "collect_evidence", { filePath: "/tmp/x", reason, fileMaxBytes: 16 * 1024 * 1024 }, false],
  ["file without a reason", "collect_evidence", { filePath: "/tmp/x" }, false],
  ["file with a blank reason", "collect_evidence", { filePath: "/tmp/x", reason: " " }, false],
  ["path at the byte limit", "collect_evidence", { filePath: pathOf(L.pathMaxBytes), reason }, true],
  ["path one byte over", "collect_evidence", { filePath: pathOf(L.pathMaxBytes + 1), reason }, false],
  ["wide path over in bytes, under in characters", "collect_evidence", { filePath: widePathOf(L.pathMaxBytes + 1), reason }, false],
  ["path with ..", "collect_evidence", { filePath: "/etc/../etc/shadow", reason }, false],
  ["path with .", "collect_evidence", { sha256Paths: ["/etc/./shadow"] }, false],
  ["relative path", "collect_evidence", { sha256Paths: ["etc/shadow"] }, false],
  ["hashes at the count limit", "collect_evidence", { sha256Paths: Array.from({ length: L.sha256PathsMax }, (_, i) => `/f${i}`) }, true],
  ["hashes one over", "collect_evidence", { sha256Paths: Array.from({ length: L.sha256PathsMax + 1 }, (_, i) => `/f${i}`) }, false],
  ["nothing asked", "collect_evidence", {}, false],
  ["reason at the limit", "isolate", { reason: "r".repeat(L.reasonMaxChars) }, true],
  ["reason one over", "isolate", { reason: "r".repeat(L.reasonMaxChars + 1) }, false],
  ["release reason one over", "release", { reason: "r".repeat(L.reasonMaxChars + 1) }, false],
  ["block reason one over", "block_ip", { ip: "192.0.2.1", reason: "r".repeat(L.reasonMaxChars + 1) }, false],
  ["kill reason one over", "kill_process", { pid: 4242, reason: "r".repeat(L.reasonMaxChars + 1) }, false],
  ["session reason one over", "terminate_session", { user: "alice", reason: "r".repeat(L.reasonMaxChars + 1) }, false],
  ["evidence reason one over", "collect_evidence", { processes: true, reason: "r".repeat(L.reasonMaxChars + 1) }, false],
  ["allowlist at the limit", "isolate", { allowCidrs: Array.from({ length: L.allowCidrsMax }, (_, i) => `10.0.${i}.0/24`) }, true],
  ...["192.0.2.1", "10.0.0.0/8", "10.1.2.3/8", "::", "::/0", "2001:db8::/32", "::ffff:192.0.2.1", "0.0.0.0/0"].map((ip): [string, string, Record<string, unknown>, boolean] => [
    `ip ${ip}`,
    "block_ip",
    { ip },
    true,
  ]),
  ...["fe80::1%eth0", "01.2.3.4", "1.2.3", "192.0.2.1 ", "10.0.0.0/33", "::/129", "10.0.0.0/", "1.2.3.4/-1", "0x1.2.3.4", "1:2:3:4:5:6:7:8:9", "1.2.3.4; flush ruleset"].map(
    (ip): [string, string, Record<string, unknown>, boolean] => [`ip ${JSON.stringify(ip)}`, "unblock_ip", { ip }, false],
  ),
  ["pid 1", "kill_process", { pid: 1, startTicks: 1 }, false],
  ["pid without a start time", "kill_process", { pid: 4242 }, false],
  ["block for longer than the agent allows", "block_ip", { ip: "192.0.2.1", ttlSeconds: L.blockTtlMaxSeconds + 1 }, false],
  ["session by user alone", "terminate_session", { user: "alice" }, false],
  ["session by user and tty", "terminate_session", { user: "alice", tty: "pts/1" }, true],
  ["allowlist one over", "isolate", { allowCidrs: Array.from({ length: L.allowCidrsMax + 1 }, (_, i) => `10.0.${i}.0/24`) }, false],
];

describe("command limits: one contract, both ends", () => {
  it.each(CASES)("%s: controller and agent agree", (_name, type, params, expected) => {
    expect({ controller: controllerAccepts(type, params), agent: agentAccepts(type, params) }).toEqual({ controller: expected, agent: expected });
  });

  it("the agent's evidence constants are the shared ones", () => {
    expect(MAX_FILE_BYTES).toBe(L.evidenceFileMaxBytes);
    expect(MAX_EVIDENCE_JSON_BYTES).toBe(L.evidenceResultMaxBytes);
    // A whole result (with the base64 of the largest file) fits the controller's stored output.
    expect(Math.ceil(L.evidenceFileMaxBytes / 3) * 4).toBeLessThan(L.evidenceResultMaxBytes);
    expect(L.evidenceResultMaxBytes).toBeLessThanOrEqual(L.outputMaxChars);
  });
});
