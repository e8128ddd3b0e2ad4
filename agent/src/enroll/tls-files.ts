import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { writeFileAtomic } from "../platform/linux/atomic-file";
import { join } from "node:path";
import { loadPinnedKey, savePinnedKey } from "../runtime/pinned-key";

/** What enrollment leaves in `<state-dir>/tls/` (all mode 0600). */
export interface TlsIdentity {
  agentId: string;
  keyPem: string;
  certPem: string;
  caPem: string;
  /** The controller's Ed25519 command key (raw 32 bytes); pinned in runtime/pinned-key's file. */
  commandPublicKey: Buffer;
  notBeforeMs: number;
  notAfterMs: number;
  /** Local time the certificate was received: lifetimes are measured from here (notBefore is backdated for skew). */
  receivedAtMs: number;
  caFingerprint: string;
  controller: string;
}

export function tlsDir(stateDir: string): string {
  return join(stateDir, "tls");
}

export function hasTlsIdentity(stateDir: string): boolean {
  return existsSync(join(tlsDir(stateDir), "identity.json"));
}

function writeSecret(file: string, data: string | Buffer): void {
  // Write then rename: a crash mid-write never leaves a half key or certificate behind.
  writeFileAtomic(file, data);
}

/**
 * Key and certificate are written before identity.json, which names the
 * pair in use: a reader sees the old complete identity or the new one.
 */
export function saveTlsIdentity(stateDir: string, id: TlsIdentity): void {
  const dir = tlsDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const gen = String(id.notBeforeMs);
  writeSecret(join(dir, `agent-${gen}.key`), id.keyPem);
  writeSecret(join(dir, `agent-${gen}.crt`), id.certPem);
  writeSecret(join(dir, "ca.crt"), id.caPem);
  savePinnedKey(stateDir, id.commandPublicKey);
  writeSecret(
    join(dir, "identity.json"),
    JSON.stringify(
      {
        agentId: id.agentId,
        key: `agent-${gen}.key`,
        cert: `agent-${gen}.crt`,
        notBeforeMs: id.notBeforeMs,
        notAfterMs: id.notAfterMs,
        receivedAtMs: id.receivedAtMs,
        caFingerprint: id.caFingerprint,
        controller: id.controller,
      },
      null,
      2,
    ) + "\n",
  );
  // Older key pairs are no longer named by identity.json: remove them rather than keep keys around.
  for (const f of readdirSync(dir)) if (/^agent-\d+\.(key|crt)$/.test(f) && !f.startsWith(`agent-${gen}.`)) rmSync(join(dir, f), { force: true });
}

export function loadTlsIdentity(stateDir: string): TlsIdentity {
  const dir = tlsDir(stateDir);
  const meta = JSON.parse(readFileSync(join(dir, "identity.json"), "utf8")) as {
    agentId: string;
    key: string;
    cert: string;
    notBeforeMs: number;
    notAfterMs: number;
    receivedAtMs?: number;
    caFingerprint: string;
    controller: string;
  };
  return {
    agentId: meta.agentId,
    keyPem: readFileSync(join(dir, meta.key), "utf8"),
    certPem: readFileSync(join(dir, meta.cert), "utf8"),
    caPem: readFileSync(join(dir, "ca.crt"), "utf8"),
    commandPublicKey: loadPinnedKey(stateDir) ?? Buffer.alloc(0),
    notBeforeMs: meta.notBeforeMs,
    notAfterMs: meta.notAfterMs,
    receivedAtMs: meta.receivedAtMs ?? meta.notBeforeMs,
    caFingerprint: meta.caFingerprint,
    controller: meta.controller,
  };
}
