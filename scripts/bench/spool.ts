/**
 * Spool throughput per fsync policy: append (batched), reopen (checksum scan of
 * every record) and replay (lease everything), with ~300-byte records.
 *
 *   npx tsx scripts/bench/spool.ts [--records N] [--batch B] [--seconds S] [--no-write]
 *
 * Writes the "## Spool" section of docs/benchmarks.md unless --no-write.
 * SPOOL_BENCH_DIR picks the disk (default: the OS temp dir); fsync numbers only
 * mean something on a real disk, not tmpfs.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DiskSpool, Priority, type FsyncPolicy, type SpoolOptions } from "../../agent/src/spool";

const PAYLOAD_BYTES = 300;
const KIND = "process";
/** On-disk size of one record: 8-byte prefix, 11-byte header, kind, payload. */
const RECORD_BYTES = 8 + 11 + KIND.length + PAYLOAD_BYTES;

interface Args {
  records: number;
  batch: number;
  seconds: number;
  write: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { records: 200_000, batch: 100, seconds: 4, write: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === "--records") args.records = num();
    else if (a === "--batch") args.batch = num();
    else if (a === "--seconds") args.seconds = num();
    else if (a === "--no-write") args.write = false;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

interface Row {
  policy: string;
  batch: number;
  records: number;
  appendRps: number;
  appendMBps: number;
  perBatchUs: number;
  reopenMs: number;
  replayRps: number;
  replayMBps: number;
}

function template(): Buffer {
  const b = Buffer.alloc(PAYLOAD_BYTES);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

interface Run {
  label: string;
  fsync: FsyncPolicy;
  batch: number;
  /** Set to measure the drop path: the spool is far smaller than what is appended. */
  maxBytes?: number;
}

function runOne(run: Run, args: Args, root: string): Row {
  const { fsync, batch } = run;
  const dir = fs.mkdtempSync(path.join(root, `vigil-spool-bench-${fsync}-`));
  const opts: SpoolOptions = { dir, fsync, fsyncIntervalMs: 200, maxBytes: run.maxBytes ?? 1024 * 1024 * 1024, segmentBytes: run.maxBytes ? run.maxBytes / 16 : undefined };
  const tpl = template();
  const item = {
    kind: KIND,
    priority: Priority.Low,
    // Stands in for protobuf encoding: a fresh buffer that embeds the seq.
    encode: (seq: number) => {
      const b = Buffer.from(tpl);
      b.writeUInt32LE(seq, 0);
      return b;
    },
  };
  const items = Array.from({ length: batch }, () => item);
  try {
    const spool = DiskSpool.open(opts);
    const deadline = performance.now() + args.seconds * 1000;
    const t0 = performance.now();
    let appended = 0;
    let batches = 0;
    while (appended < args.records && performance.now() < deadline) {
      spool.append(items);
      appended += batch;
      batches++;
    }
    const appendMs = performance.now() - t0;
    spool.close();
    // Bytes handed to the spool (record headers included), not what is left after drops.
    const bytes = appended * RECORD_BYTES;

    const t1 = performance.now();
    const reopened = DiskSpool.open(opts);
    const reopenMs = performance.now() - t1;
    const t2 = performance.now();
    let replayed = 0;
    let payloadBytes = 0;
    for (;;) {
      const got = reopened.lease(1000, 1024 * 1024);
      if (got.length === 0) break;
      replayed += got.length;
      for (const r of got) payloadBytes += r.payload.length;
    }
    const replayMs = performance.now() - t2;
    const dropped = Object.values(reopened.dropped()).reduce((a, b) => a + b, 0);
    reopened.close();
    if (replayed + dropped !== appended) throw new Error(`replayed ${replayed} + dropped ${dropped} != appended ${appended}`);
    return {
      policy: run.label,
      batch,
      records: appended,
      appendRps: appended / (appendMs / 1000),
      appendMBps: bytes / 1e6 / (appendMs / 1000),
      perBatchUs: (appendMs * 1000) / batches,
      reopenMs,
      replayRps: replayed / (replayMs / 1000),
      replayMBps: payloadBytes / 1e6 / (replayMs / 1000),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function table(rows: Row[]): string {
  const head = "| fsync | batch | records | append rec/s | append MB/s | µs/batch | reopen ms | replay rec/s | replay MB/s |";
  const sep = "|---|--:|--:|--:|--:|--:|--:|--:|--:|";
  const body = rows.map(
    (r) =>
      `| ${r.policy} | ${r.batch} | ${fmt(r.records)} | ${fmt(r.appendRps)} | ${fmt(r.appendMBps, 1)} | ${fmt(r.perBatchUs)} | ${fmt(r.reopenMs)} | ${fmt(r.replayRps)} | ${fmt(r.replayMBps, 1)} |`,
  );
  return [head, sep, ...body].join("\n");
}

const START = "<!-- bench:spool -->";
const END = "<!-- /bench:spool -->";

/** Replaces only this benchmark's section; other benchmarks own the rest of the file. */
function writeSection(file: string, section: string): void {
  const block = `${START}\n${section}\n${END}`;
  const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "# Benchmarks\n";
  const s = current.indexOf(START);
  const e = current.indexOf(END);
  const next = s >= 0 && e > s ? current.slice(0, s) + block + current.slice(e + END.length) : `${current.replace(/\n*$/, "\n\n")}${block}\n`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, next);
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const root = process.env.SPOOL_BENCH_DIR ?? os.tmpdir();
  const runs: Run[] = [
    { label: "never", fsync: "never", batch: args.batch },
    { label: "interval (200 ms)", fsync: "interval", batch: args.batch },
    { label: "always", fsync: "always", batch: args.batch },
    { label: "always", fsync: "always", batch: 1 },
    { label: "interval, full 16 MiB spool (drops)", fsync: "interval", batch: args.batch, maxBytes: 16 * 1024 * 1024 },
  ];
  const rows = runs.map((run) => {
    const row = runOne(run, args, root);
    process.stdout.write(`${row.policy} batch ${run.batch}: ${fmt(row.appendRps)} rec/s\n`);
    return row;
  });
  const out = table(rows);
  process.stdout.write(`\n${out}\n`);
  if (!args.write) return;
  const [never, interval, always, always1, full] = rows as [Row, Row, Row, Row, Row];
  const section = [
    "## Spool",
    "",
    `\`npx tsx scripts/bench/spool.ts\` — ${PAYLOAD_BYTES}-byte payloads (${RECORD_BYTES} bytes on disk), append stops at ${fmt(args.records)} records or ${args.seconds} s;`,
    `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "unknown"}), load average ${os.loadavg()[0]!.toFixed(1)} during the run, Node ${process.version}, spool under \`${root}\`, ${new Date().toISOString().slice(0, 10)}.`,
    '"reopen" checks the checksum of every record; "replay" leases everything in 1,000-record / 1 MiB leases.',
    "On this shared VM, repeated runs differ by up to 5x (one fdatasync took 0.5 to 5 ms): compare the rows of one run, not runs.",
    "",
    out,
    "",
    "Trade-off:",
    `- \`always\` syncs every batch: ${fmt(always.perBatchUs)} µs per ${always.batch}-record batch against ${fmt(interval.perBatchUs)} µs with \`interval\`, so ${fmt(always.appendRps)} instead of ${fmt(interval.appendRps)} records/s; one record per batch falls to ${fmt(always1.appendRps)} records/s. Nothing appended is lost on power loss.`,
    `- \`interval\` (default, 200 ms) costs about what \`never\` costs (${fmt(never.appendRps)} records/s); on power loss up to 200 ms of appends can be lost, never a record the controller has seen: records are leased only after their sync, so delivery waits up to 200 ms.`,
    "- `never` survives a crash of the agent (kill -9, tested) but not of the host.",
    `- A full spool (${fmt(full.records)} records into 16 MiB, most dropped by policy and counted) still takes ${fmt(full.appendRps)} records/s: it sheds \`dropSlackBytes\` (default min(segmentBytes, maxBytes/32)) of the oldest telemetry at a time, one segment rewrite plus a synced journal step each.`,
  ].join("\n");
  writeSection(path.join(__dirname, "..", "..", "docs", "benchmarks.md"), section);
  process.stdout.write("wrote docs/benchmarks.md (## Spool)\n");
}

main();
