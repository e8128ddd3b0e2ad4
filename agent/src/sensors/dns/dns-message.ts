/**
 * A DNS message (RFC 1035 §4) read from the bytes a process sent or received: hostile input. Any
 * process (or anyone able to send it a datagram) chooses these bytes, so the reader is bounded in
 * every direction: names at most 255 bytes and labels 63, at most MAX_JUMPS compression pointers
 * per name and each pointing strictly backwards (no loop can be built), at most MAX_QUESTIONS
 * questions and MAX_ANSWERS answers looked at, and each byte of the message read a bounded number
 * of times, so the cost is linear in the message. It never throws: garbage gives `{ error }`.
 */

import { formatHostIp } from "@vigil/detection";

export const TYPE_A = 1;
export const TYPE_CNAME = 5;
export const TYPE_AAAA = 28;

const TYPE_NAMES: Record<number, string> = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  12: "PTR",
  15: "MX",
  16: "TXT",
  28: "AAAA",
  33: "SRV",
  35: "NAPTR",
  39: "DNAME",
  41: "OPT",
  43: "DS",
  48: "DNSKEY",
  64: "SVCB",
  65: "HTTPS",
  99: "SPF",
  252: "AXFR",
  255: "ANY",
  257: "CAA",
};

/** A record type as dig names it: `A`, `TXT`, or `TYPE<n>` for the rest. */
export function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `TYPE${type}`;
}

const HEADER = 12;
/** A name's wire length limit (RFC 1035 §2.3.4), and a label's. */
const MAX_NAME = 255;
const MAX_LABEL = 63;
/** Compression pointers followed in one name; real messages need one or two. */
const MAX_JUMPS = 16;
/** Real queries carry one question; a few are tolerated, more is malformed. */
const MAX_QUESTIONS = 4;
/** Answers read; the rest of a larger answer section is ignored (answersCut is set). */
export const MAX_ANSWERS = 32;

export interface DnsQuestion {
  /** Presentation form without the final dot; bytes outside printable ASCII, `.` and `\` escaped as dig does (`\DDD`, `\.`). */
  name: string;
  type: number;
}

export interface DnsAnswer {
  name: string;
  type: number;
  ttl: number;
  /** A/AAAA: the address (IPv4-mapped IPv6 as IPv4); CNAME: the target name; other types: "". */
  data: string;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  rcode: number;
  /** The first question; undefined when the message has none. */
  question: DnsQuestion | undefined;
  answers: DnsAnswer[];
  /** The answer section held more than MAX_ANSWERS records. */
  answersCut: boolean;
  /** Why answers stopped before ancount: a record cut off (the sensor copies ≤ 512 bytes) or malformed. */
  answersProblem?: string;
}

export type DnsParse = { message: DnsMessage; error?: undefined } | { message?: undefined; error: string };

class Malformed {
  constructor(readonly reason: string) {}
}

/** Reads one (possibly compressed) name at `start`; returns it and where the data after it begins. */
function readName(buf: Buffer, start: number): { name: string; next: number } | Malformed {
  const labels: string[] = [];
  let pos = start;
  let next = -1; // where the caller continues: after the first pointer, or after the final 0
  let wire = 1; // the final root label's length byte
  let jumps = 0;
  for (;;) {
    if (pos >= buf.length) return new Malformed("name runs past the end");
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const tag = len & 0xc0;
    if (tag === 0xc0) {
      if (pos + 1 >= buf.length) return new Malformed("compression pointer cut off");
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      // Strictly backwards: every jump lands before the previous one, so no loop, and MAX_JUMPS caps the walk anyway.
      if (target >= pos) return new Malformed("compression pointer does not point backwards");
      if (++jumps > MAX_JUMPS) return new Malformed("too many compression pointers");
      if (next < 0) next = pos + 2;
      pos = target;
      continue;
    }
    // 0x40 and 0x80 are reserved label types: with tag 0, a length is at most 63 (MAX_LABEL) by construction.
    if (tag !== 0) return new Malformed(`label type 0x${tag.toString(16)} (a label of ${len} bytes is over ${MAX_LABEL})`);
    wire += len + 1;
    if (wire > MAX_NAME) return new Malformed("name longer than 255 bytes");
    if (pos + 1 + len > buf.length) return new Malformed("label runs past the end");
    labels.push(presentLabel(buf, pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { name: labels.join("."), next };
}

/** A label as text: printable ASCII as is, `.` and `\` escaped, other bytes as `\DDD`. */
function presentLabel(buf: Buffer, from: number, to: number): string {
  let out = "";
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c === 0x2e || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c > 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\${c.toString().padStart(3, "0")}`;
  }
  return out;
}

function readAnswer(buf: Buffer, pos: number): { answer: DnsAnswer; next: number } | Malformed {
  const owner = readName(buf, pos);
  if (owner instanceof Malformed) return owner;
  let p = owner.next;
  if (p + 10 > buf.length) return new Malformed("answer header cut off");
  const type = buf.readUInt16BE(p);
  const ttl = buf.readUInt32BE(p + 4);
  const rdlength = buf.readUInt16BE(p + 8);
  p += 10;
  if (p + rdlength > buf.length) return new Malformed("answer data runs past the end");
  let data = "";
  if (type === TYPE_A || type === TYPE_AAAA) {
    if (rdlength !== (type === TYPE_A ? 4 : 16)) return new Malformed(`${typeName(type)} answer of ${rdlength} bytes`);
    data = formatHostIp(buf.subarray(p, p + rdlength));
  } else if (type === TYPE_CNAME) {
    const target = readName(buf, p);
    if (target instanceof Malformed) return target;
    if (target.next > p + rdlength) return new Malformed("CNAME target runs past its data");
    data = target.name;
  }
  // ttl: a value with the top bit set means 0 (RFC 2181 §8).
  return { answer: { name: owner.name, type, ttl: ttl > 0x7fffffff ? 0 : ttl, data }, next: p + rdlength };
}

/** Parses a DNS message; never throws. */
export function parseDnsMessage(buf: Buffer): DnsParse {
  try {
    return parse(buf);
  } catch (err) {
    // Every read above is bounds-checked; this is a last guard so a slip can never crash the agent.
    return { error: `unexpected: ${(err as Error).message}` };
  }
}

function parse(buf: Buffer): DnsParse {
  if (buf.length < HEADER) return { error: "shorter than a DNS header" };
  const flags = buf.readUInt16BE(2);
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  if ((flags >> 11) & 0xf) return { error: `opcode ${(flags >> 11) & 0xf} is not a query` };
  if (qdcount > MAX_QUESTIONS) return { error: `${qdcount} questions` };
  let pos = HEADER;
  let question: DnsQuestion | undefined;
  for (let i = 0; i < qdcount; i++) {
    const q = readName(buf, pos);
    if (q instanceof Malformed) return { error: `question: ${q.reason}` };
    if (q.next + 4 > buf.length) return { error: "question cut off" };
    question ??= { name: q.name, type: buf.readUInt16BE(q.next) };
    pos = q.next + 4;
  }
  const answers: DnsAnswer[] = [];
  let answersProblem: string | undefined;
  const response = (flags & 0x8000) !== 0;
  if (response) {
    for (let i = 0; i < Math.min(ancount, MAX_ANSWERS); i++) {
      const a = readAnswer(buf, pos);
      // A response cut by the sensor's copy limit (or by the sender) keeps the answers read so far.
      if (a instanceof Malformed) {
        answersProblem = a.reason;
        break;
      }
      answers.push(a.answer);
      pos = a.next;
    }
  }
  const message: DnsMessage = { id: buf.readUInt16BE(0), response, rcode: flags & 0xf, question, answers, answersCut: ancount > MAX_ANSWERS };
  if (answersProblem !== undefined) message.answersProblem = answersProblem;
  return { message };
}
