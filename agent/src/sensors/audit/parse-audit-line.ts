import { redactVigilSecrets, REDACTED, type AuditEvent } from "@vigil/proto";

/** Per-record bounds: the log holds attacker-chosen command lines and paths. */
export const AUDIT_LIMITS = { fields: 256, value: 4096, raw: 8192 } as const;

export interface ParsedAudit {
  audit: AuditEvent;
  timeMs: number;
}

// [node=HOST ]type=TYPE msg=audit(SECONDS.MILLIS:SERIAL): fields
const HEADER = /^(?:node=(\S+) )?type=(\S+) msg=audit\((\d{1,12})\.(\d{3}):(\d{1,20})\): ?(.*)$/s;
const PAIR = /([A-Za-z0-9_\-[\]]+)=("[^"]*"|'[^']*'|\S*)/g;
const HEX = /^(?:[0-9A-F]{2})+$/;
/**
 * Fields auditd writes hex-encoded (unquoted) when the value holds a space, quote or
 * control byte; quoted when it does not. Elsewhere a bare hex token is a number
 * (SYSCALL's a0..a3 are raw syscall arguments) and stays as written.
 */
const ENCODED = new Set(["name", "comm", "exe", "cwd", "path", "proctitle", "key", "data", "cmd", "acct", "new", "old", "root_dir", "vm", "watch", "dir", "file", "ocomm"]);
const EXECVE_ARG = /^a\d+$/;
const ARG_PIECE = /^(a\d+)\[(\d+)\]$/;
// ENRICHED log_format appends the interpreted values (UID="root", SYSCALL=execve) after a 0x1d.
const ENRICH_SEP = "\u001d";

/**
 * Parses one line of /var/log/audit/audit.log into an AuditEvent. Returns null for
 * anything that is not an audit record. Never throws.
 */
export function parseAuditLine(line: string): ParsedAudit | null {
  try {
    const text = line.replace(/\r?\n$/, "");
    const m = HEADER.exec(text);
    if (!m) return null;
    const [, node, type, secs, millis, serial, rest] = m;
    const fields: Record<string, string> = {};
    const [plain, enriched] = splitOnce(rest!, ENRICH_SEP);
    const isExecve = type === "EXECVE";
    const pieces = new Map<string, { decoded: string[]; raw: string[] }>();
    // Raw (possibly hex-encoded) values whose decoded form held a Vigil secret: blanked in `raw` too.
    const secretRaws: string[] = [];
    let count = 0;
    const put = (k: string, v: string, raws: string[]): void => {
      if (count >= AUDIT_LIMITS.fields || k in fields) return;
      const clean = redactVigilSecrets(v);
      if (clean !== v) secretRaws.push(...raws);
      fields[k] = clean.length > AUDIT_LIMITS.value ? clean.slice(0, AUDIT_LIMITS.value) : clean;
      count++;
    };
    for (const [k, raw] of pairs(plain)) {
      if (k === "msg" && raw.startsWith("'")) {
        // User-space records nest their own key=value list: msg='op=PAM:session_open acct="root" ...'.
        for (const [ik, iraw] of pairs(raw.slice(1, -1))) put(ik, decode(ik, iraw, false), [iraw]);
        continue;
      }
      const piece = isExecve ? ARG_PIECE.exec(k) : null;
      if (piece) {
        const list = pieces.get(piece[1]!) ?? { decoded: [], raw: [] };
        list.decoded[Number(piece[2])] = decode(piece[1]!, raw, true);
        list.raw.push(raw);
        pieces.set(piece[1]!, list);
        continue;
      }
      put(k, decode(k, raw, isExecve), [raw]);
    }
    // An argument longer than a record allows comes as a2[0], a2[1], ...: rejoin it.
    for (const [k, list] of pieces) put(k, list.decoded.join(""), list.raw);
    if (enriched !== undefined) for (const [k, raw] of pairs(enriched)) put(k, unquote(raw), [raw]);
    if (node) put("node", node, [node]);
    const timeMs = Number(secs) * 1000 + Number(millis);
    return {
      audit: {
        recordType: type!,
        serial: Number(serial),
        fields,
        raw: clipRaw(secretRaws.length ? redactRaw(text, secretRaws) : text),
        records: [],
      },
      timeMs,
    };
  } catch {
    return null; // one bad record costs one record, never the sensor
  }
}

function clipRaw(text: string): string {
  return text.length > AUDIT_LIMITS.raw ? text.slice(0, AUDIT_LIMITS.raw) : text;
}

/** The record line with each value that decoded to a secret replaced, then any plain-text secret left. */
function redactRaw(text: string, raws: string[]): string {
  let out = text;
  for (const r of raws) if (r.length > 0) out = out.split(r).join(`"${REDACTED}"`);
  return redactVigilSecrets(out);
}

function* pairs(s: string): Generator<[string, string]> {
  for (const m of s.matchAll(PAIR)) yield [m[1]!, m[2]!];
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function unquote(v: string): string {
  return v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0] ? v.slice(1, -1) : v;
}

function decode(key: string, raw: string, execve: boolean): string {
  if (raw.startsWith('"') || raw.startsWith("'")) return unquote(raw);
  const encoded = ENCODED.has(key) || (execve && EXECVE_ARG.test(key));
  if (!encoded || !HEX.test(raw)) return raw;
  const bytes = Buffer.from(raw, "hex");
  // proctitle separates argv with NULs; a command line reads better with spaces.
  return bytes.toString("utf8").replace(/\0+$/, "").replace(/\0/g, " ");
}
