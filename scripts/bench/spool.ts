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

function runOne(policy: FsyncPolicy, batch: number, args: Args, root: string): Row {
  const dir = fs.mkdtempSync(path.join(root, `vigil-spool-bench-${policy}-`));
  const opts: SpoolOptions = { dir, fsync: policy, fsyncIntervalMs: 200, maxBytes: 1024 * 1024 * 1024 };
  const tpl = template();
  const item = {
    kind: "process",
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
    const bytes = spool.stats().bytes;
    spool.close();

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
    reopened.close();
    if (replayed !== appended) throw new Error(`replayed ${replayed} of ${appended} records`);
    return {
      policy: policy === "interval" ? "interval (200 ms)" : policy,
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
  const runs: [FsyncPolicy, number][] = [
    ["never", args.batch],
    ["interval", args.batch],
    ["always", args.batch],
    ["always", 1],
  ];
  const rows = runs.map(([policy, batch]) => {
    const row = runOne(policy, batch, args, root);
    process.stdout.write(`${row.policy} batch ${batch}: ${fmt(row.appendRps)} rec/s\n`);
    return row;
  });
  const out = table(rows);
  process.stdout.write(`\n${out}\n`);
  if (!args.write) return;
  const section = [
    "## Spool",
    "",
    `\`npx tsx scripts/bench/spool.ts\` — ${PAYLOAD_BYTES}-byte payloads, append stops at ${fmt(args.records)} records or ${args.seconds} s;`,
    `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "unknown"}), Node ${process.version}, spool under \`${root}\`, ${new Date().toISOString().slice(0, 10)}.`,
    "\"reopen\" checks the checksum of every record; \"replay\" leases everything in 1,000-record / 1 MiB leases.",
    "",
    out,
  ].join("\n");
  writeSection(path.join(__dirname, "..", "..", "docs", "benchmarks.md"), section);
  process.stdout.write("wrote docs/benchmarks.md (## Spool)\n");
}

main();
