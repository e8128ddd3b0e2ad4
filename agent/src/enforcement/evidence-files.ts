import { createHash } from "node:crypto";
import { constants, promises as fs } from "node:fs";

/** Hashing stops here: an attacker-planted 100 GB file must not pin the agent for an hour. */
export const MAX_HASH_BYTES = 2 * 1024 * 1024 * 1024;

export type HashResult = { path: string; sha256: string; size: number } | { path: string; error: string };

/**
 * Opens only regular files. O_NONBLOCK keeps a FIFO from blocking the open, and the
 * fstat check after opening (not before) leaves no window to swap the file.
 */
async function openRegular(path: string): Promise<{ fh: fs.FileHandle; size: number }> {
  const fh = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new Error("not a regular file");
  }
  return { fh, size: st.size };
}

export async function sha256File(path: string): Promise<HashResult> {
  try {
    const { fh, size } = await openRegular(path);
    try {
      if (size > MAX_HASH_BYTES) return { path, error: `larger than ${MAX_HASH_BYTES} bytes; not hashed` };
      const h = createHash("sha256");
      const buf = Buffer.alloc(1024 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        h.update(buf.subarray(0, bytesRead));
      }
      return { path, sha256: h.digest("hex"), size };
    } finally {
      await fh.close();
    }
  } catch (e) {
    return { path, error: (e as Error).message };
  }
}

export type FileBytes = { path: string; size: number; truncated: boolean; base64: string; sha256OfReturned: string } | { path: string; error: string };

export async function readFileBounded(path: string, maxBytes: number): Promise<FileBytes> {
  try {
    const { fh, size } = await openRegular(path);
    try {
      const buf = Buffer.alloc(Math.min(maxBytes, size));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const data = buf.subarray(0, got);
      return { path, size, truncated: size > got, base64: data.toString("base64"), sha256OfReturned: createHash("sha256").update(data).digest("hex") };
    } finally {
      await fh.close();
    }
  } catch (e) {
    return { path, error: (e as Error).message };
  }
}
