import { createReadStream, statSync } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Event } from "@vigil/proto";
import { AuditAssembler, parseAuditLine } from "./sensors/audit";
import { parseAuthLine } from "./sensors/auth";
import { parseSyslogLine } from "./sensors/syslog";
import type { EventBody } from "./sensors/sensor";

export const PARSE_HELP = `  parse     print the events a log file holds, one JSON line each (the shape
            \`vigil-controller rules test --events\` reads), to run rules over an old log
              --auth-log FILE    an auth.log / secure file (every line: logins, sudo, ... and "other")
              --audit-log FILE   an auditd audit.log
              --syslog FILE      a /var/log/syslog or /var/log/messages file
              --now ISO-TIME     reference for the year of classic syslog stamps (default: the file's mtime)
              --hostname NAME    hostname field of the events (default: this host's)
`;

type Parse = ((line: string) => { body: EventBody; timeMs: number }[]) & { end?: () => { body: EventBody; timeMs: number }[] };

/**
 * Reads `file` line by line and writes one Event.toJSON line per event. Streaming, with
 * stdout backpressure honoured, so a multi-gigabyte log goes through in bounded memory.
 */
export async function printLogEvents(file: string, parse: Parse, out: NodeJS.WritableStream): Promise<{ lines: number; events: number }> {
  let lines = 0;
  let seq = 0;
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const write = async (evs: { body: EventBody; timeMs: number }[]) => {
    for (const { body, timeMs } of evs) {
      const text = JSON.stringify(Event.toJSON(Event.fromPartial({ seq: ++seq, eventTimeMs: timeMs, body })));
      if (!out.write(text + "\n")) await once(out, "drain");
    }
  };
  for await (const line of rl) {
    lines++;
    await write(parse(line));
  }
  if (parse.end) await write(parse.end());
  return { lines, events: seq };
}

/** Audit records joined into audit events as the sensor does, on the log's own clock. */
function auditParser(): Parse {
  let logTime = 0;
  let ready: { body: EventBody; timeMs: number }[] = [];
  const asm = new AuditAssembler({ now: () => logTime }, (audit, timeMs) => ready.push({ body: { $case: "audit", audit }, timeMs }));
  const take = () => {
    const out = ready;
    ready = [];
    return out;
  };
  const parse: Parse = (line) => {
    const p = parseAuditLine(line);
    if (p) {
      logTime = Math.max(logTime, p.timeMs);
      asm.tick();
      asm.push(p);
    }
    return take();
  };
  parse.end = () => (asm.flushAll(), take());
  return parse;
}

export async function parseCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { "auth-log": { type: "string" }, "audit-log": { type: "string" }, syslog: { type: "string" }, now: { type: "string" }, hostname: { type: "string" } },
  });
  const auth = values["auth-log"];
  const audit = values["audit-log"];
  const syslog = values.syslog;
  if ([auth, audit, syslog].filter((f) => f !== undefined).length !== 1) {
    process.stderr.write("vigil-agent parse: give exactly one of --auth-log FILE, --audit-log FILE or --syslog FILE\n");
    return 2;
  }
  const file = (auth ?? audit ?? syslog)!;
  let mtime: Date;
  try {
    mtime = statSync(file).mtime;
  } catch (err) {
    process.stderr.write(`vigil-agent parse: ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return 1;
  }
  const now = values.now !== undefined ? new Date(values.now) : mtime;
  if (Number.isNaN(now.getTime())) {
    process.stderr.write(`vigil-agent parse: --now "${values.now}" is not a time (use ISO 8601, e.g. 2024-03-06T12:00:00Z)\n`);
    return 2;
  }
  const parse: Parse =
    auth !== undefined
      ? (line) => {
          const p = parseAuthLine(line, { now, keepOther: true });
          if (!p) return [];
          const body: EventBody = { $case: "auth", auth: values.hostname ? { ...p.auth, hostname: values.hostname } : p.auth };
          return Array.from({ length: p.repeat ?? 1 }, () => ({ body, timeMs: p.timeMs }));
        }
      : audit !== undefined
        ? auditParser()
        : (line) => {
            const p = parseSyslogLine(line, "syslog", now);
            return p ? [{ body: { $case: "log", log: values.hostname ? { ...p.log, hostname: values.hostname } : p.log }, timeMs: p.timeMs }] : [];
          };
  const r = await printLogEvents(file, parse, process.stdout);
  process.stderr.write(`vigil-agent parse: ${r.lines} lines, ${r.events} events\n`);
  return 0;
}
