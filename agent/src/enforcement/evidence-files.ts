import { createHash } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import { sha256OfHandle } from "../platform/linux/file-hasher";
import { type EvidenceDenyList, looksLikePrivateKey } from "./evidence-deny";

/** Hashing stops here: an attacker-planted 100 GB file must not pin the agent for an hour. */
export const MAX_HASH_BYTES = 2 * 1024 * 1024 * 1024;

export type HashResult = { path: string; sha256: string; size: number } | { path: string; error: string };
export type FileBytes = { path: string; size: number; truncated: boolean; base64: string; sha256OfReturned: string } | { path: string; error: string };

/** A refusal by rule (as opposed to an I/O error): reported as "refused: …". */
export class EvidenceRefused extends Error {}

/**
 * Opens a requested path for reading only if it is a regular file the deny list allows,
 * in a way a local user racing the agent cannot redirect:
 * 1. the path as asked: absolute (checked at validation), no "." or ".." components;
 * 2. realpath resolves every symlink (and /proc/self/root-style magic links) to the canonical path, checked against the deny list;
 * 3. the canonical path is opened with O_NOFOLLOW (a last component swapped for a symlink fails),
 *    O_NONBLOCK (a FIFO cannot block the open) and O_NOCTTY;
 * 4. the path of the opened descriptor (/proc/self/fd) must still be the canonical path, so a
 *    directory swapped for a symlink between steps 2 and 3 is caught;
 * 5. fstat of the descriptor: a regular file, and not a known secret reached through a hard link or bind mount.
 */
export async function openEvidenceFile(requested: string, deny: EvidenceDenyList): Promise<{ fh: fs.FileHandle; path: string; size: number }> {
  if (requested.split("/").some((c) => c === ".." || c === ".")) throw new EvidenceRefused("path has . or .. components; give the canonical path");
  // As asked first, so nothing (not even whether a file exists) is learnt about a protected place.
  const asAsked = deny.reasonFor(requested);
  if (asAsked) throw new EvidenceRefused(asAsked);
  const canonical = await fs.realpath(requested);
  const denied = deny.reasonFor(canonical);
  if (denied) throw new EvidenceRefused(canonical === requested ? denied : `resolves to ${canonical}: ${denied}`);
  const fh = await fs.open(canonical, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const opened = await fs.readlink(`/proc/self/fd/${fh.fd}`);
    if (opened !== canonical) throw new EvidenceRefused(`the path changed while it was opened (now ${opened})`);
    const st = await fh.stat();
    if (!st.isFile()) throw new EvidenceRefused("not a regular file");
    const secret = deny.secretIdentities().get(`${st.dev}:${st.ino}`);
    if (secret) throw new EvidenceRefused(`the same file as ${secret}, which is protected`);
    return { fh, path: canonical, size: st.size };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

function failure(path: string, e: unknown): { path: string; error: string } {
  return { path, error: e instanceof EvidenceRefused ? `refused: ${e.message}` : (e as Error).message };
}

export async function sha256File(path: string, deny: EvidenceDenyList): Promise<HashResult> {
  try {
    const { fh, size } = await openEvidenceFile(path, deny);
    try {
      const digest = size > MAX_HASH_BYTES ? "too-large" : await sha256OfHandle(fh, MAX_HASH_BYTES, size);
      if (digest === "too-large") return { path, error: `larger than ${MAX_HASH_BYTES} bytes; not hashed` };
      return { path, sha256: digest.sha256, size };
    } finally {
      await fh.close();
    }
  } catch (e) {
    return failure(path, e);
  }
}

export async function readFileBounded(path: string, maxBytes: number, deny: EvidenceDenyList): Promise<FileBytes> {
  try {
    const { fh, size } = await openEvidenceFile(path, deny);
    try {
      const buf = Buffer.alloc(Math.min(maxBytes, size));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const data = buf.subarray(0, got);
      if (looksLikePrivateKey(data)) throw new EvidenceRefused("the file holds a private key");
      return { path, size, truncated: size > got, base64: data.toString("base64"), sha256OfReturned: createHash("sha256").update(data).digest("hex") };
    } finally {
      await fh.close();
    }
  } catch (e) {
    return failure(path, e);
  }
}
