import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TRAILER_MAGIC, locateHelper } from "../../../src/sensors/ebpf/helper-binary";

/** An executable as sea-agent.mjs lays it out: [image][helper][sha256 hex][u64 LE length][magic]. */
function agentBinary(path: string, helper: Buffer, recordedHash = createHash("sha256").update(helper).digest("hex")): void {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(helper.length));
  writeFileSync(path, Buffer.concat([Buffer.from("#!node SEA image stand-in\n"), helper, Buffer.from(recordedHash, "latin1"), len, Buffer.from(TRAILER_MAGIC, "latin1")]));
}

describe("the eBPF helper embedded in the agent binary", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-helper-bin-"));
  const helper = Buffer.from("\x7fELF the helper's bytes");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is extracted into <state>/bin, owner read+execute only, and verified by its hash", () => {
    const exe = join(dir, "agent-ok");
    agentBinary(exe, helper);
    const state = join(dir, "state-ok");
    const got = locateHelper({ stateDir: state, executable: exe });
    expect(got).toMatchObject({ path: join(state, "bin", "vigil-ebpf"), origin: "embedded", sha256: createHash("sha256").update(helper).digest("hex") });
    expect(readFileSync(got.path)).toEqual(helper);
    expect((statSync(got.path).mode & 0o777).toString(8)).toBe("500");
  });

  it("a copy changed on disk since is replaced by the embedded one before it could run", () => {
    const exe = join(dir, "agent-swap");
    agentBinary(exe, helper);
    const state = join(dir, "state-swap");
    const { path } = locateHelper({ stateDir: state, executable: exe });
    chmodSync(path, 0o700);
    writeFileSync(path, "#!/bin/sh\necho swapped\n");
    chmodSync(path, 0o500);
    const again = locateHelper({ stateDir: state, executable: exe });
    expect(readFileSync(again.path)).toEqual(helper);
  });

  it("an agent binary whose helper does not match its recorded hash is refused", () => {
    const exe = join(dir, "agent-corrupt");
    agentBinary(exe, helper, createHash("sha256").update("something else").digest("hex"));
    expect(() => locateHelper({ stateDir: join(dir, "state-corrupt"), executable: exe })).toThrow(/does not match its recorded hash/);
  });

  it("a configured helper that group or others could replace is refused", () => {
    const configured = join(dir, "configured-helper");
    writeFileSync(configured, helper);
    chmodSync(configured, 0o775);
    expect(() => locateHelper({ configured, stateDir: join(dir, "state-cfg") })).toThrow(/writable by group or others/);
  });
});
