import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MAX_ANSWERS, parseDnsMessage, typeName } from "../../../src/sensors/dns";

/** Wire bytes of a name, uncompressed. */
function name(n: string): Buffer {
  const parts = n === "" ? [] : n.split(".");
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "latin1")])), Buffer.from([0])]);
}

function header(id: number, flags: number, qd: number, an: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  return h;
}

function question(n: string, type: number): Buffer {
  const t = Buffer.alloc(4);
  t.writeUInt16BE(type, 0);
  t.writeUInt16BE(1, 2);
  return Buffer.concat([name(n), t]);
}

/** An answer whose owner is a pointer to the question's name (offset 12), as servers write it. */
function answer(type: number, ttl: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([Buffer.from([0xc0, 12]), fixed, rdata]);
}

const RESPONSE = 0x8180;

describe("DNS message parser (hostile input)", () => {
  it("reads a query's question", () => {
    const r = parseDnsMessage(Buffer.concat([header(0x1234, 0x0100, 1, 0), question("files.example.com", 1)]));
    expect(r.error).toBeUndefined();
    expect(r.message).toMatchObject({ id: 0x1234, response: false, question: { name: "files.example.com", type: 1 }, answers: [] });
  });

  it("reads a response's A, AAAA and CNAME answers with compressed names", () => {
    const cname = Buffer.concat([Buffer.from([3]), Buffer.from("cdn"), Buffer.from([0xc0, 12])]); // cdn.<question>
    const msg = Buffer.concat([
      header(7, RESPONSE, 1, 3),
      question("www.example.org", 1),
      answer(5, 300, cname),
      answer(1, 60, Buffer.from([203, 0, 113, 7])),
      answer(28, 60, Buffer.from("20010db8000000000000000000000001", "hex")),
    ]);
    const m = parseDnsMessage(msg).message!;
    expect(m.rcode).toBe(0);
    expect(m.answers.map((a) => [typeName(a.type), a.data, a.ttl])).toEqual([
      ["CNAME", "cdn.www.example.org", 300],
      ["A", "203.0.113.7", 60],
      ["AAAA", "2001:db8::1", 60],
    ]);
  });

  it("refuses a compression pointer loop (a name pointing at itself, and two pointing at each other)", () => {
    // The question's name is a pointer to itself at offset 12.
    const self = Buffer.concat([header(1, 0x0100, 1, 0), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    expect(parseDnsMessage(self).error).toMatch(/does not point backwards/);
    // An answer whose owner at offset X points forward to a pointer that points back to X.
    const q = question("a", 1);
    const base = 12 + q.length;
    const loop = Buffer.concat([header(1, RESPONSE, 1, 1), q, Buffer.from([0xc0, base + 2, 0xc0, base]), Buffer.alloc(10)]);
    expect(parseDnsMessage(loop).message?.answersProblem).toMatch(/does not point backwards/);
  });

  it("refuses a name behind more than 16 backward pointers", () => {
    const q = question("x", 1);
    // Answer 1, of a type nobody reads, carries the chain as its data: pointer i points at pointer i-1, the first at the question.
    const chainAt = 12 + q.length + 12;
    const chain = Buffer.concat(Array.from({ length: 20 }, (_, i) => (i === 0 ? Buffer.from([0xc0, 12]) : Buffer.from([0xc0, chainAt + 2 * (i - 1)]))));
    const last = chainAt + 2 * 19;
    // Answer 2's owner is a pointer to the chain's last: 21 jumps to reach the name.
    const second = Buffer.concat([Buffer.from([0xc0, last]), Buffer.from([0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4])]);
    const m = parseDnsMessage(Buffer.concat([header(1, RESPONSE, 1, 2), q, answer(99, 5, chain), second])).message!;
    expect(m.answers.map((a) => a.type)).toEqual([99]);
    expect(m.answersProblem).toMatch(/too many compression pointers/);
  });

  it("refuses over-long labels and names, and reserved label types", () => {
    const maxLabel = Buffer.concat([header(1, 0x0100, 1, 0), question("a".repeat(63), 1)]);
    expect(parseDnsMessage(maxLabel).message?.question?.name).toBe("a".repeat(63));
    const longLabel = Buffer.concat([header(1, 0x0100, 1, 0), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])]);
    expect(parseDnsMessage(longLabel).error).toMatch(/a label of 64 bytes is over 63/);
    const longName = Buffer.concat([header(1, 0x0100, 1, 0), question(Array.from({ length: 5 }, () => "a".repeat(63)).join("."), 1)]);
    expect(parseDnsMessage(longName).error).toMatch(/name longer than 255/);
    const extended = Buffer.concat([header(1, 0x0100, 1, 0), Buffer.from([0x41, 0, 0, 1, 0, 1])]);
    expect(parseDnsMessage(extended).error).toMatch(/label type 0x40/);
  });

  it("refuses truncated messages at every length, without throwing", () => {
    const full = Buffer.concat([header(9, RESPONSE, 1, 1), question("cut.example", 1), answer(1, 5, Buffer.from([10, 0, 0, 1]))]);
    expect(parseDnsMessage(full).message?.answers).toHaveLength(1);
    for (let n = 0; n < full.length; n++) {
      const r = parseDnsMessage(full.subarray(0, n));
      // Cut inside the question: an error; cut inside the answer: the question without it, and why.
      if (r.message) {
        expect(r.message.answers).toEqual([]);
        expect(r.message.answersProblem).toBeTruthy();
      } else expect(r.error).toBeTruthy();
    }
  });

  it("keeps the answers read before a cut (the kernel copies at most 512 bytes)", () => {
    const msg = Buffer.concat([header(9, RESPONSE, 1, 2), question("two.example", 1), answer(1, 5, Buffer.from([10, 0, 0, 1])), answer(1, 5, Buffer.from([10, 0, 0, 2]))]);
    const m = parseDnsMessage(msg.subarray(0, msg.length - 3)).message!;
    expect(m.answers.map((a) => a.data)).toEqual(["10.0.0.1"]);
  });

  it("reads at most 32 answers of a message claiming 65,535", () => {
    const answers = Array.from({ length: 40 }, (_, i) => answer(1, 5, Buffer.from([10, 0, 0, i])));
    const m = parseDnsMessage(Buffer.concat([header(1, RESPONSE, 1, 0xffff), question("many.example", 1), ...answers])).message!;
    expect(m.answers).toHaveLength(MAX_ANSWERS);
    expect(m.answersCut).toBe(true);
  });

  it("refuses an A answer of the wrong size, more than 4 questions, and a non-query opcode", () => {
    expect(parseDnsMessage(Buffer.concat([header(1, RESPONSE, 1, 1), question("a.b", 1), answer(1, 5, Buffer.from([1, 2, 3]))])).message?.answersProblem).toMatch(/A answer of 3 bytes/);
    expect(parseDnsMessage(Buffer.concat([header(1, 0x0100, 5, 0), ...Array.from({ length: 5 }, () => question("q", 1))])).error).toMatch(/5 questions/);
    expect(parseDnsMessage(Buffer.concat([header(1, 0x2800, 1, 0), question("update.example", 6)])).error).toMatch(/opcode 5/);
  });

  it("escapes dots, backslashes and unprintable bytes inside labels, so a name cannot pose as another", () => {
    const evil = Buffer.concat([header(1, 0x0100, 1, 0), Buffer.from([11]), Buffer.from("evil.com\\\n\0", "latin1"), Buffer.from([4]), Buffer.from("good"), Buffer.from([0, 0, 1, 0, 1])]);
    expect(parseDnsMessage(evil).message?.question?.name).toBe("evil\\.com\\\\\\010\\000.good");
  });

  it("never throws on 5,000 random and mutated messages", () => {
    const good = Buffer.concat([header(7, RESPONSE, 1, 2), question("www.example.org", 1), answer(1, 60, Buffer.from([1, 2, 3, 4])), answer(5, 60, Buffer.from([0xc0, 12]))]);
    let parsed = 0;
    for (let i = 0; i < 5_000; i++) {
      let buf: Buffer;
      if (i % 2 === 0) buf = randomBytes(i % 600);
      else {
        buf = Buffer.from(good);
        for (let k = 0; k < 1 + (i % 4); k++) buf[(i * 7919 + k * 104729) % buf.length] = (i * 31 + k) & 0xff;
      }
      const r = parseDnsMessage(buf);
      expect(r.message !== undefined || typeof r.error === "string").toBe(true);
      if (r.message) parsed++;
      expect(r.error ?? "").not.toMatch(/^unexpected/);
    }
    expect(parsed).toBeGreaterThan(0);
  });
});
