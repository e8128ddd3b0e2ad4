import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { readTailSection, TRAILER_BYTES } from "../../../src/platform/payload/tail-section";
import { PAYLOAD_MAGIC } from "../../../src/platform/payload/payload";
import { readEmbeddedHelper } from "../../../src/sensors/ebpf/helper-binary";

/**
 * The built SEA binary (npm run build:agent) carries systeminformation and @peculiar/x509 as a
 * payload after its SEA image, not in its script: `inventory` runs them from there, and a payload
 * changed in the binary is refused, whether or not its trailer's hash was changed with it.
 */
const ROOT = resolve(__dirname, "../../../..");
const BINARY = join(ROOT, "dist/vigil-agent");
const BUNDLE = join(ROOT, "dist/vigil-agent.cjs");
const skip = existsSync(BINARY) ? null : "dist/vigil-agent not built (npm run build:agent)";
if (skip) console.log(`SKIP payload tests: ${skip}`);

const run = (binary: string) => spawnSync(binary, ["inventory", "--reason", "test"], { encoding: "utf8", timeout: 120_000 });

describe.skipIf(skip !== null)("the agent's payload", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-payload-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is not in the agent's script, and `inventory` runs it from the binary's tail", () => {
    expect(readFileSync(BUNDLE, "latin1")).not.toMatch(/systeminformation\/lib/);
    const section = readTailSection(BINARY, PAYLOAD_MAGIC, 16 << 20);
    expect(section?.bytes.toString("utf8")).toContain("reflectMetadata");
    // The helper, appended after it, is still found.
    expect(readEmbeddedHelper(BINARY)).toBeDefined();
    const res = run(BINARY);
    expect(res.status, res.stderr).toBe(0);
    const inv = JSON.parse(res.stdout) as { reason: string; kernel: string; cpuCores: number };
    expect(inv).toMatchObject({ reason: "test" });
    expect(inv.kernel).toBe(spawnSync("uname", ["-r"], { encoding: "utf8" }).stdout.trim());
    expect(inv.cpuCores).toBeGreaterThan(0);
  });

  /** A copy of the binary with one byte of the payload changed; `rehash` also rewrites the trailer's hash. */
  function tampered(rehash: boolean): string {
    const copy = join(dir, `agent-${rehash ? "rehashed" : "flipped"}`);
    copyFileSync(BINARY, copy);
    const bin = readFileSync(copy);
    const size = statSync(copy).size;
    const helperLen = Number(bin.readBigUInt64LE(size - 16));
    const payloadEnd = size - TRAILER_BYTES - helperLen - TRAILER_BYTES;
    expect(bin.toString("latin1", payloadEnd + 72, payloadEnd + 80)).toBe(PAYLOAD_MAGIC);
    const payloadLen = Number(bin.readBigUInt64LE(payloadEnd + 64));
    const start = payloadEnd - payloadLen;
    // A character of the payload's code (its last line), so it still parses.
    bin[start + payloadLen - 2] ^= 0x01;
    if (rehash) bin.write(createHash("sha256").update(bin.subarray(start, payloadEnd)).digest("hex"), payloadEnd, "latin1");
    writeFileSync(copy, bin, { mode: 0o755 });
    return copy;
  }

  it("refuses a payload that does not match its trailer", () => {
    const res = run(tampered(false));
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/does not match its recorded hash/);
  });

  it("refuses a payload whose trailer was rewritten to match: the hash that counts is in the script", () => {
    const res = run(tampered(true));
    expect(res.status).not.toBe(0);
    expect(res.stderr).toMatch(/does not match the hash built into it/);
  });
});
