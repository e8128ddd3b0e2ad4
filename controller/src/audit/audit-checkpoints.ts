import { appendFile, open } from "node:fs/promises";
import { join } from "node:path";

/** The chain's head as seen at one moment, kept outside the database. */
export interface Checkpoint {
  seq: number;
  hash: string;
  /** Seq of the record from which the chain is keyed. */
  keyedFrom: number;
  time: number;
}

export function checkpointPath(dataDir: string): string {
  return join(dataDir, "audit-checkpoints.jsonl");
}

/** How much of the file's end is read to find the last checkpoint (lines are ~150 bytes). */
const TAIL_BYTES = 8192;

/**
 * An append-only file of chain heads (JSON lines, 0600) in the data dir, and the
 * same head in the log stream: whoever deletes the newest audit rows from the
 * database leaves a chain whose head is older than the last checkpoint.
 */
export class AuditCheckpoints {
  constructor(
    readonly path: string,
    private readonly log?: (cp: Checkpoint) => void,
  ) {}

  async write(cp: Checkpoint): Promise<void> {
    await appendFile(this.path, JSON.stringify(cp) + "\n", { mode: 0o600, flag: "a" });
    this.log?.(cp);
  }

  /** The newest valid checkpoint, or undefined when none was written. */
  async last(): Promise<Checkpoint | undefined> {
    let fh;
    try {
      fh = await open(this.path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    try {
      const { size } = await fh.stat();
      const start = Math.max(0, size - TAIL_BYTES);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      const lines = buf.toString("utf8").split("\n").filter(Boolean).reverse();
      for (const line of lines) {
        const cp = parseCheckpoint(line);
        if (cp) return cp;
      }
      return undefined;
    } finally {
      await fh.close();
    }
  }
}

function parseCheckpoint(line: string): Checkpoint | undefined {
  try {
    const v = JSON.parse(line) as Record<string, unknown>;
    const int = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
    if (int(v.seq) && int(v.keyedFrom) && int(v.time) && typeof v.hash === "string" && /^[0-9a-f]{64}$/.test(v.hash)) return v as unknown as Checkpoint;
  } catch {
    // a torn last line (crash mid-append): the previous line is the checkpoint
  }
  return undefined;
}
