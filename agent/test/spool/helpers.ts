import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DiskSpool, Priority, type AppendItem, type LeasedRecord, type SpoolOptions } from "../../src/spool";

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "vigil-spool-"));
}

/** A payload that names its own seq, so a test can check encode got the seq the record carries. */
export function payloadFor(kind: string, seq: number, size = 64): Uint8Array {
  const head = Buffer.from(`${kind}#${seq};`);
  const out = Buffer.alloc(Math.max(size, head.length), ".");
  head.copy(out);
  return out;
}

export function item(kind: string, priority: Priority = Priority.Low, size = 64): AppendItem {
  return { kind, priority, encode: (seq) => payloadFor(kind, seq, size) };
}

export function items(n: number, kind = "process", priority: Priority = Priority.Low, size = 64): AppendItem[] {
  return Array.from({ length: n }, () => item(kind, priority, size));
}

export function open(dir: string, opts: Partial<SpoolOptions> = {}): DiskSpool {
  return DiskSpool.open({ dir, fsync: "never", ...opts });
}

/** Leases until nothing is left. */
export function drain(spool: DiskSpool, batch = 1000): LeasedRecord[] {
  const out: LeasedRecord[] = [];
  for (;;) {
    const got = spool.lease(batch, 1 << 20);
    if (got.length === 0) return out;
    out.push(...got);
  }
}

/** The seq a payload says it was encoded with. */
export function seqInPayload(r: LeasedRecord): number {
  const text = Buffer.from(r.payload).toString();
  return Number(text.slice(text.indexOf("#") + 1, text.indexOf(";")));
}

export function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(".seg"))
    .sort();
}
