/**
 * Turns a byte stream into lines with a hard cap on line length, so one
 * runaway writer (or a binary file at the configured path) cannot make us
 * buffer without bound. Used by the file tailer and the journalctl reader.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** True while skipping the rest of an overlong line we already emitted truncated. */
  private discarding = false;

  constructor(private readonly maxLineBytes: number) {}

  /** Bytes held for an unfinished line (not yet handed out). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** True if the last push ended inside a line. */
  get midLine(): boolean {
    return this.pendingBytes > 0 || this.discarding;
  }

  /** Start in "skip until the next newline" mode, e.g. when joining a file mid-line. */
  skipToNextLine(): void {
    this.reset();
    this.discarding = true;
  }

  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.discarding = false;
  }

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.discarding) this.append(chunk.subarray(start, end), lines);
      if (nl === -1) break;
      if (!this.discarding) lines.push(this.take());
      this.discarding = false;
      start = nl + 1;
    }
    return lines;
  }

  /** Hands out an unfinished last line (e.g. when a rotated file is retired). */
  flush(): string | null {
    if (this.pendingBytes === 0) {
      this.discarding = false;
      return null;
    }
    const line = this.take();
    this.discarding = false;
    return line;
  }

  private append(part: Buffer, out: string[]): void {
    if (part.length === 0) return;
    const room = this.maxLineBytes - this.pendingBytes;
    if (part.length < room) {
      // Copy: the caller may reuse its read buffer while we hold a partial line.
      this.pending.push(Buffer.from(part));
      this.pendingBytes += part.length;
      return;
    }
    // The line reached the cap: emit what fits and drop the rest up to the newline.
    this.pending.push(Buffer.from(part.subarray(0, room)));
    this.pendingBytes += room;
    out.push(this.take());
    this.discarding = true;
  }

  private take(): string {
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    let s = buf.toString("utf8");
    if (s.endsWith("\r")) s = s.slice(0, -1);
    return s;
  }
}
