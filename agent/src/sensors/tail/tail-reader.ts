import type { FileHandle } from "node:fs/promises";
import { LineSplitter } from "./line-splitter";
import { FINGERPRINT_BYTES, fingerprint } from "./tail-state";

export type LinesHandler = (lines: string[]) => void | Promise<void>;

/** One open log file and how far into it we are. */
export class TailReader {
  /** Next byte to read. */
  private readPos: number;
  /** Just after the last newline whose line the consumer has accepted. */
  committed: number;
  fpLen = 0;
  fp = "";
  lastGrowthMs = Date.now();
  private readonly splitter: LineSplitter;

  constructor(
    readonly fh: FileHandle,
    readonly dev: number,
    readonly ino: number,
    offset: number,
    private readonly chunkBytes: number,
    maxLineBytes: number,
  ) {
    this.readPos = offset;
    this.committed = offset;
    this.splitter = new LineSplitter(maxLineBytes);
  }

  get position(): number {
    return this.readPos;
  }

  /** Continue where a saved state left off. */
  resumeAt(offset: number, fpLen: number, fp: string): void {
    this.splitter.reset();
    this.readPos = offset;
    this.committed = offset;
    this.fpLen = fpLen;
    this.fp = fp;
  }

  /** First start without saved state: only lines written from now on. */
  async startAtEnd(size: number): Promise<void> {
    this.resumeAt(size, 0, "");
    const last = Buffer.alloc(1);
    await this.fh.read(last, 0, 1, size - 1);
    if (last[0] !== 0x0a) this.splitter.skipToNextLine(); // joined mid-line
    await this.refreshFingerprint();
  }

  /** Truncated or replaced in place: read it again from byte 0. */
  restart(): void {
    this.readPos = 0;
    this.committed = 0;
    this.fpLen = 0;
    this.fp = "";
    this.splitter.reset();
  }

  /**
   * Reads to end of file in bounded chunks, handing complete lines over chunk
   * by chunk. `committed` moves only after the handler returned, so a crash
   * between read and hand-over re-reads those lines instead of losing them.
   * If the handler throws, we rewind to `committed` and rethrow.
   * Returns true if anything was committed.
   */
  async drain(onLines: LinesHandler, stopped: () => boolean): Promise<boolean> {
    let progressed = false;
    const buf = Buffer.allocUnsafe(this.chunkBytes);
    while (!stopped()) {
      const { bytesRead } = await this.fh.read(buf, 0, this.chunkBytes, this.readPos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      const chunkStart = this.readPos;
      this.readPos += bytesRead;
      this.lastGrowthMs = Date.now();
      const lines = this.splitter.push(chunk);
      const lastNl = chunk.lastIndexOf(0x0a);
      try {
        if (lines.length > 0) await onLines(lines);
      } catch (err) {
        this.readPos = this.committed;
        this.splitter.reset();
        throw err;
      }
      if (lastNl >= 0) {
        this.committed = chunkStart + lastNl + 1;
        progressed = true;
      }
      if (bytesRead < this.chunkBytes) break;
    }
    if (progressed) await this.refreshFingerprint();
    return progressed;
  }

  /** Hands over an unfinished last line; used when a rotated file is done. */
  async flush(onLines: LinesHandler): Promise<void> {
    const last = this.splitter.flush();
    if (last !== null) await onLines([last]);
  }

  /** False if the first bytes are no longer the ones we fingerprinted. */
  async sameContent(): Promise<boolean> {
    if (this.fpLen === 0) return true;
    return (await fingerprint(this.fh, this.fpLen)) === this.fp;
  }

  private async refreshFingerprint(): Promise<void> {
    const want = Math.min(this.committed, FINGERPRINT_BYTES);
    if (want <= this.fpLen) return;
    this.fp = await fingerprint(this.fh, want);
    this.fpLen = this.fp ? want : 0;
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
