import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CertificateRenewer } from "../../src/enroll/renewer";
import { hasTlsIdentity, loadTlsIdentity, saveTlsIdentity, type TlsIdentity } from "../../src/enroll/tls-files";
import { normalizePin } from "../../src/enroll/pin";
import { silentLog } from "../../src/util/log";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function identity(gen: number, receivedAtMs = gen): TlsIdentity {
  return {
    agentId: "a-1",
    keyPem: `KEY ${gen}`,
    certPem: `CERT ${gen}`,
    caPem: "CA",
    commandPublicKey: Buffer.alloc(32, 7),
    notBeforeMs: gen - 300_000,
    notAfterMs: gen + 9_000,
    receivedAtMs,
    caFingerprint: "f".repeat(64),
    controller: "127.0.0.1:1",
  };
}

describe("agent TLS identity files", () => {
  it("are written 0600, read back, and a renewal removes the previous key pair", () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-tls-"));
    dirs.push(dir);
    expect(hasTlsIdentity(dir)).toBe(false);
    saveTlsIdentity(dir, identity(1_000_000));
    saveTlsIdentity(dir, identity(2_000_000));
    expect(hasTlsIdentity(dir)).toBe(true);
    const back = loadTlsIdentity(dir);
    expect(back.keyPem).toBe("KEY 2000000");
    expect(back.commandPublicKey.equals(Buffer.alloc(32, 7))).toBe(true);
    const files = readdirSync(join(dir, "tls")).sort();
    expect(files).toEqual(["agent-1700000.crt", "agent-1700000.key", "ca.crt", "identity.json"].sort());
    for (const f of files) expect(statSync(join(dir, "tls", f)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "controller-command-key")).mode & 0o777).toBe(0o600);
  });

  it("renewal is due at 2/3 of the lifetime measured from receipt, not from the backdated notBefore", () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-tls-"));
    dirs.push(dir);
    saveTlsIdentity(dir, identity(1_000_000, 1_000_000));
    expect(new CertificateRenewer(dir, "127.0.0.1:1", silentLog).dueAt()).toBe(1_006_000);
  });

  it("pins are accepted in the usual spellings and anything else is refused", () => {
    const hex = "ab".repeat(32);
    expect(normalizePin(hex.toUpperCase().match(/../g)!.join(":"))).toBe(hex);
    expect(normalizePin(`sha256:${hex}`)).toBe(hex);
    expect(() => normalizePin("abc")).toThrow(/64 hex digits/);
  });
});
