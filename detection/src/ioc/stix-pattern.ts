import { unsupportedReason, type UnsupportedKind } from "./infer";
import { parseTime } from "./normalize";

/**
 * STIX 2.0/2.1 patterns read as lists of plain indicator values.
 *
 * A pattern is brought to a disjunction of alternatives (OR, IN); each alternative must come down to
 * exactly one value Vigil can match on its own:
 *   [ipv4-addr:value = '1.2.3.4'] / ipv6-addr:value    (CIDR values are ranges; ISSUBSET '10.0.0.0/8')
 *   [domain-name:value = 'evil.com']
 *   [file:hashes.'SHA-256' = '...'] / hashes.SHA256 / hashes.'sha256' / hashes.SHA-256
 *   [network-traffic:dst_ref.value = '1.2.3.4'] / src_ref.value (with or without dst_ref.type)
 *
 * AND. Inside one observation, conditions that only narrow the same object are dropped, so the IOC
 * matches a little more than the pattern: the file's name, size or other hashes next to its SHA-256;
 * a domain's resolves_to_refs; the type of a network-traffic reference; and the ports, protocols and
 * times of the connection to an address or host (MISP's ip-dst|port, hostname|port), as Vigil's CSV
 * import already does for ThreatFox's ip:port. An AND that names two values (1.2.3.4 AND evil.com,
 * src AND dst address), or a value and a second object (a domain AND a URL, a hash AND a process),
 * is refused: only both together match the producer's pattern and either alone would fire far more
 * often than the producer asked. For the same reason AND / FOLLOWEDBY between observations and the
 * WITHIN and REPEATS qualifiers are refused. START/STOP is read as a validity window (STOP becomes
 * the IOC's expiry).
 *
 * Alternatives that cannot be imported are reported one by one (with the unsupported kind where that
 * is the reason), so an indicator "[ipv4-addr:value = 'x'] OR [url:value = 'y']" loads the address
 * and says the URL was left out.
 */

export interface PatternValue {
  /** "ip" covers single addresses and CIDRs; normalisation decides which. */
  kind: "ip" | "domain" | "sha256";
  /** The IP family the object type promises, checked against the value. */
  family?: 4 | 6;
  value: string;
  /** START qualifier: epoch ms from which the observation counts. */
  startMs?: number;
  /** STOP qualifier: epoch ms after which the observation no longer counts (the IOC's expiry). */
  stopMs?: number;
}

export interface PatternRefusal {
  reason: string;
  /**
   * Set when the alternative was refused because Vigil cannot match its kind: url, md5, sha1, sha512,
   * email (as the CSV import names them), another hash name (ssdeep, sha384, ...) or the STIX object
   * type (process, x509-certificate, windows-registry-key, ...).
   */
  kind?: string;
}

export type PatternParse = { ok: true; values: PatternValue[]; refused?: PatternRefusal[] } | { ok: false; reason: string; refused: PatternRefusal[] };

type Const = { t: "str"; v: string } | { t: "num"; v: string } | { t: "bool"; v: boolean } | { t: "typed"; prefix: "t" | "h" | "b"; v: string };

type Tok = { t: "[" | "]" | "(" | ")" | "," } | { t: "const"; c: Const } | { t: "path"; object: string; props: string[] } | { t: "word"; v: string } | { t: "op"; v: string };

class Refusal {
  constructor(
    readonly reason: string,
    readonly kind?: string,
  ) {}
}

const WORD_CHAR = /[A-Za-z0-9_-]/;
const MAX_DEPTH = 32;
/** Cap on the alternatives one pattern expands to (ANDs of ORs multiply). */
const MAX_ALTERNATIVES = 100_000;
export const MAX_PATTERN_CHARS = 512 * 1024;

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const readString = (): string => {
    i++; // opening quote
    let s = "";
    while (i < src.length) {
      const c = src[i] as string;
      if (c === "\\") {
        const next = src[i + 1];
        if (next !== "'" && next !== "\\") throw new Refusal(`invalid escape '\\${next ?? ""}' in string literal`);
        s += next;
        i += 2;
        continue;
      }
      if (c === "'") {
        i++;
        return s;
      }
      s += c;
      i++;
    }
    throw new Refusal("unterminated string literal");
  };
  const readWord = (): string => {
    const start = i;
    while (i < src.length && WORD_CHAR.test(src[i] as string)) i++;
    return src.slice(start, i);
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "[" || c === "]" || c === "(" || c === ")" || c === ",") {
      toks.push({ t: c });
      i++;
    } else if (c === "'") {
      toks.push({ t: "const", c: { t: "str", v: readString() } });
    } else if (c === "=" || c === "!" || c === "<" || c === ">") {
      const two = src.slice(i, i + 2);
      const op = two === "!=" || two === "<=" || two === ">=" ? two : c;
      if (op === "!") throw new Refusal("unexpected '!'");
      toks.push({ t: "op", v: op });
      i += op.length;
    } else if (/[0-9]/.test(c) || (c === "-" && /[0-9]/.test(src[i + 1] ?? ""))) {
      const m = /^-?[0-9]+(?:\.[0-9]+)?/.exec(src.slice(i, i + 64)) as RegExpExecArray;
      toks.push({ t: "const", c: { t: "num", v: m[0] } });
      i += m[0].length;
    } else if (WORD_CHAR.test(c)) {
      const word = readWord();
      if ((word === "t" || word === "h" || word === "b") && src[i] === "'") {
        toks.push({ t: "const", c: { t: "typed", prefix: word, v: readString() } });
        continue;
      }
      if (src[i] !== ":") {
        if (word === "true" || word === "false") toks.push({ t: "const", c: { t: "bool", v: word === "true" } });
        else toks.push({ t: "word", v: word });
        continue;
      }
      i++; // the ':' between object type and property path
      const props: string[] = [];
      for (;;) {
        if (src[i] === "'") props.push(readString());
        else {
          const p = readWord();
          if (p === "") throw new Refusal(`malformed object path after '${word}:'`);
          props.push(p);
        }
        // List index: resolves_to_refs[*], sections[0].
        while (src[i] === "[") {
          const m = /^\[(\*|[0-9]+)\]/.exec(src.slice(i, i + 24));
          if (!m) throw new Refusal(`malformed list index in object path '${word}:${props.join(".")}'`);
          props[props.length - 1] += m[0];
          i += m[0].length;
        }
        // A ':' for the '.' is not STIX, but OASIS's own examples write "file:hashes:sha256" and
        // nothing else can follow a property name there, so it is read as the separator it stands for.
        if ((src[i] === "." || src[i] === ":") && (src[i + 1] === "'" || WORD_CHAR.test(src[i + 1] ?? ""))) {
          i++;
          continue;
        }
        break;
      }
      toks.push({ t: "path", object: word.toLowerCase(), props });
    } else {
      throw new Refusal(`unexpected character '${c}'`);
    }
  }
  return toks;
}

function describe(tok: Tok | undefined): string {
  if (!tok) return "end of pattern";
  switch (tok.t) {
    case "const":
      return tok.c.t === "str" ? `'${tok.c.v}'` : tok.c.t === "typed" ? `${tok.c.prefix}'${tok.c.v}'` : String(tok.c.v);
    case "path":
      return pathText(tok.object, tok.props);
    case "word":
    case "op":
      return tok.v;
    default:
      return tok.t;
  }
}

const pathText = (object: string, props: string[]): string => `${object}:${props.join(".")}`;

/** One comparison of a conjunction, after IN has been expanded into equalities. */
interface Comparison {
  object: string;
  props: string[];
  /** "=", "!=", "<", "MATCHES", "LIKE", "ISSUBSET", "ISSUPERSET", "EXISTS", ... */
  op: string;
  negated: boolean;
  value?: Const;
}

/** A disjunction of conjunctions. */
type Dnf = Comparison[][];

/** What one alternative of a pattern became. */
type Outcome = { ok: true; value: PatternValue } | { ok: false; refusal: Refusal };

const SUPPORTED_OBJECTS = ["ipv4-addr", "ipv6-addr", "domain-name"];

/** "SHA-256", "sha256", "SHA256" -> "sha256"; "SHA-1" -> "sha1"; "SHA3-256" -> "sha3-256". */
function hashName(raw: string): string {
  const u = raw.toLowerCase();
  return /^sha-?(1|224|256|384|512)$/.test(u) ? u.replace("-", "") : u;
}

const KIND_OF_HASH: Record<string, UnsupportedKind> = { md5: "md5", sha1: "sha1", sha512: "sha512" };

/** Why a comparison on this path cannot be matched, and the kind to count it under. */
function pathRefusal(c: Comparison): Refusal {
  const path = pathText(c.object, c.props);
  if (c.object === "file" && c.props.length === 2 && c.props[0] === "hashes") {
    const h = hashName(c.props[1] as string);
    return new Refusal(`hash algorithm '${c.props[1]}' is not supported (Vigil events carry SHA-256 file hashes only)`, KIND_OF_HASH[h] ?? h);
  }
  let kind: string = c.object;
  let why: string;
  if (c.object === "url") {
    kind = "url";
    why = unsupportedReason("url");
  } else if (c.object === "email-addr" || c.object === "email-message") {
    kind = "email";
    why = unsupportedReason("email");
  } else if (c.object === "x509-certificate") {
    why = "a certificate's fingerprint is not a file hash, and Vigil events carry no certificates";
  } else {
    why = "Vigil matches ipv4-addr:value, ipv6-addr:value, domain-name:value, file:hashes.'SHA-256' and network-traffic:dst_ref.value / src_ref.value";
  }
  return new Refusal(`object path '${path}' is not supported (${why})`, kind);
}

const isRef = (prop: string): boolean => /_refs?(\[[^\]]*\])?$/.test(prop);

/**
 * The value this comparison names, when it is one Vigil can match: an equality (or an IP ISSUBSET a
 * CIDR) on a supported path with a string. "ref" values (network-traffic's src/dst) get their kind
 * from the conjunction's `*_ref.type` conditions.
 */
interface Candidate {
  c: Comparison;
  kind: PatternValue["kind"] | "ref";
  family?: 4 | 6;
  value: string;
  /** For "ref": the reference property (dst_ref / src_ref). */
  ref?: string;
}

function candidateOf(c: Comparison): Candidate | Refusal | undefined {
  const { object, props } = c;
  const only = (name: string): boolean => props.length === 1 && props[0] === name;
  let cand: Omit<Candidate, "value"> | undefined;
  if (object === "ipv4-addr" && only("value")) cand = { c, kind: "ip", family: 4 };
  else if (object === "ipv6-addr" && only("value")) cand = { c, kind: "ip", family: 6 };
  else if (object === "domain-name" && only("value")) cand = { c, kind: "domain" };
  else if (object === "file" && props.length === 2 && props[0] === "hashes" && hashName(props[1] as string) === "sha256") cand = { c, kind: "sha256" };
  else if (object === "network-traffic" && props.length === 2 && (props[0] === "dst_ref" || props[0] === "src_ref") && props[1] === "value") {
    cand = { c, kind: "ref", ref: props[0] };
  }
  if (!cand) return undefined;
  if (c.negated) return new Refusal(`operator NOT ${c.op} is not supported (only =, IN and ISSUBSET)`);
  if (c.op !== "=" && c.op !== "ISSUBSET") return new Refusal(`operator ${c.op} is not supported (only =, IN and ISSUBSET)`);
  if (c.value?.t !== "str") return new Refusal(`${pathText(object, props)} needs a quoted string, got ${c.value ? describe({ t: "const", c: c.value }) : "nothing"}`);
  const value = c.value.v;
  if (c.op === "ISSUBSET") {
    if (cand.kind !== "ip" && cand.kind !== "ref") return new Refusal("ISSUBSET only applies to IP addresses");
    if (!value.includes("/")) return new Refusal(`ISSUBSET needs a CIDR, got '${value}'`);
  }
  return { ...cand, value };
}

/** Does `other` only narrow the object that `main` names (so dropping it widens the IOC a little)? */
function narrows(main: Candidate, other: Comparison): boolean {
  if (other.object === main.c.object) {
    // network-traffic: its own properties (ports, protocols, times, the referenced type) narrow the
    // connection; the *other* end's value does not (src AND dst is two addresses, caught before).
    return true;
  }
  // A port, protocol or time of the connection that reaches this address or host.
  return (main.kind === "ip" || main.kind === "domain") && other.object === "network-traffic" && !isRef(other.props[0] as string);
}

/** The refusal to report for a conjunction with no matchable value: the most telling comparison. */
function noValueRefusal(comps: Comparison[], valueRefusals: Refusal[]): Refusal {
  if (valueRefusals.length > 0) return valueRefusals[0] as Refusal;
  const refusals = comps.map(pathRefusal);
  // A hash names the file better than its name or size does; an identity better than a port.
  return (
    refusals.find((r) => r.kind !== undefined && /^(md5|sha|ssdeep|tlsh|imphash|authentihash|vhash|pehash|telfhash)/.test(r.kind) && r.kind !== "sha256") ??
    refusals.find((r) => r.kind !== undefined && r.kind !== "file" && r.kind !== "network-traffic" && !SUPPORTED_OBJECTS.includes(r.kind)) ??
    (refusals[0] as Refusal)
  );
}

function evalConjunction(comps: Comparison[]): Outcome {
  const candidates: Candidate[] = [];
  const valueRefusals: Refusal[] = [];
  for (const c of comps) {
    const r = candidateOf(c);
    if (r instanceof Refusal) valueRefusals.push(r);
    else if (r) candidates.push(r);
  }
  const distinct = new Map<string, Candidate>();
  for (const cand of candidates) distinct.set(`${cand.kind}|${cand.ref ?? ""}|${cand.value.toLowerCase()}`, cand);
  if (distinct.size === 0) return { ok: false, refusal: noValueRefusal(comps, valueRefusals) };
  if (distinct.size > 1) {
    const [a, b] = [...distinct.values()] as [Candidate, Candidate];
    return {
      ok: false,
      refusal: new Refusal(`AND is not supported between two values ('${a.value}' and '${b.value}'): only both together match the pattern, and either alone would match far more`),
    };
  }
  const main = [...distinct.values()][0] as Candidate;
  for (const c of comps) {
    if (c === main.c || candidates.some((x) => x.c === c)) continue;
    if (!narrows(main, c)) {
      return {
        ok: false,
        refusal: new Refusal(
          `AND is not supported between ${pathText(main.c.object, main.c.props)} and ${pathText(c.object, c.props)} (two objects): only both together match the pattern, and '${main.value}' alone would match more`,
        ),
      };
    }
  }
  if (main.kind !== "ref") return { ok: true, value: { kind: main.kind, ...(main.family ? { family: main.family } : {}), value: main.value } };
  // network-traffic:dst_ref.value: the reference's type, when the pattern states it, says what it is.
  const types = new Set(
    comps
      .filter((c) => c.object === "network-traffic" && c.props.length === 2 && c.props[0] === main.ref && c.props[1] === "type" && c.op === "=" && !c.negated && c.value?.t === "str")
      .map((c) => (c.value as { v: string }).v.toLowerCase()),
  );
  const looksIp = /^[0-9a-f:.]+(\/\d{1,3})?$/i.test(main.value) && /[.:]/.test(main.value) && !/[g-z]/i.test(main.value);
  const type = types.size === 1 ? ([...types][0] as string) : looksIp ? (main.value.includes(":") ? "ipv6-addr" : "ipv4-addr") : "domain-name";
  if (type === "ipv4-addr") return { ok: true, value: { kind: "ip", family: 4, value: main.value } };
  if (type === "ipv6-addr") return { ok: true, value: { kind: "ip", family: 6, value: main.value } };
  if (type === "domain-name") {
    if (main.c.op === "ISSUBSET") return { ok: false, refusal: new Refusal("ISSUBSET only applies to IP addresses") };
    return { ok: true, value: { kind: "domain", value: main.value } };
  }
  return { ok: false, refusal: new Refusal(`network-traffic:${main.ref} of type '${type}' is not supported (only ipv4-addr, ipv6-addr, domain-name)`, type) };
}

function product(a: Dnf, b: Dnf): Dnf {
  if (a.length * b.length > MAX_ALTERNATIVES) throw new Refusal(`pattern expands to more than ${MAX_ALTERNATIVES} alternatives`);
  const out: Dnf = [];
  for (const x of a) for (const y of b) out.push([...x, ...y]);
  return out;
}

function concat(a: Dnf, b: Dnf): Dnf {
  if (a.length + b.length > MAX_ALTERNATIVES) throw new Refusal(`pattern expands to more than ${MAX_ALTERNATIVES} alternatives`);
  for (const x of b) a.push(x);
  return a;
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly toks: Tok[]) {}

  parse(): Outcome[] {
    const out = this.observationExpressions();
    if (this.pos < this.toks.length) throw new Refusal(`unexpected ${describe(this.peek())} after the pattern`);
    return out;
  }

  private peek(): Tok | undefined {
    return this.toks[this.pos];
  }

  private isWord(v: string): boolean {
    const t = this.peek();
    return t?.t === "word" && t.v.toUpperCase() === v;
  }

  private expect(t: Tok["t"]): void {
    const tok = this.peek();
    if (tok?.t !== t) throw new Refusal(`expected '${t}' but found ${describe(tok)}`);
    this.pos++;
  }

  private nested<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new Refusal(`nesting deeper than ${MAX_DEPTH} levels`);
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  /** Observations joined by AND or FOLLOWEDBY must all be seen: no single value stands for them. */
  private joinObservations(op: string): Outcome[] {
    return [
      {
        ok: false,
        refusal: new Refusal(`observation operator ${op} is not supported: the pattern needs several observations together, and one alone would match more than it says`),
      },
    ];
  }

  private observationExpressions(): Outcome[] {
    let out = this.observationOr();
    while (this.isWord("FOLLOWEDBY")) {
      this.pos++;
      this.observationOr();
      out = this.joinObservations("FOLLOWEDBY");
    }
    return out;
  }

  private observationOr(): Outcome[] {
    const out = this.observationAnd();
    while (this.isWord("OR")) {
      this.pos++;
      out.push(...this.observationAnd());
    }
    return out;
  }

  private observationAnd(): Outcome[] {
    let out = this.observation();
    while (this.isWord("AND")) {
      this.pos++;
      this.observation();
      out = this.joinObservations("AND");
    }
    return out;
  }

  private observation(): Outcome[] {
    const tok = this.peek();
    let out: Outcome[];
    if (tok?.t === "(") {
      this.pos++;
      out = this.nested(() => this.observationExpressions());
      this.expect(")");
    } else if (tok?.t === "[") {
      this.pos++;
      const dnf = this.comparisonOr();
      this.expect("]");
      out = dnf.map(evalConjunction);
    } else {
      throw new Refusal(`expected '[' but found ${describe(tok)}`);
    }
    return this.qualifiers(out);
  }

  private qualifiers(out: Outcome[]): Outcome[] {
    for (;;) {
      if (this.isWord("START")) {
        this.pos++;
        const start = this.timestamp("START");
        if (!this.isWord("STOP")) throw new Refusal(`expected STOP but found ${describe(this.peek())}`);
        this.pos++;
        const stop = this.timestamp("STOP");
        out = out.map((o) => {
          if (!o.ok) return o;
          const v = { ...o.value };
          v.startMs = v.startMs === undefined ? start : Math.max(v.startMs, start);
          v.stopMs = v.stopMs === undefined ? stop : Math.min(v.stopMs, stop);
          return { ok: true, value: v };
        });
      } else if (this.isWord("WITHIN")) {
        this.pos++;
        this.number("WITHIN");
        if (!this.isWord("SECONDS")) throw new Refusal(`expected SECONDS but found ${describe(this.peek())}`);
        this.pos++;
        out = this.refuseAll(out, "qualifier WITHIN is not supported (a time window between observations; Vigil matches single values)");
      } else if (this.isWord("REPEATS")) {
        this.pos++;
        const n = this.number("REPEATS");
        if (!this.isWord("TIMES")) throw new Refusal(`expected TIMES but found ${describe(this.peek())}`);
        this.pos++;
        out = this.refuseAll(out, `qualifier REPEATS is not supported (the pattern asks for ${n} sightings; one alone would match more)`);
      } else {
        return out;
      }
    }
  }

  private refuseAll(out: Outcome[], reason: string): Outcome[] {
    return out.map((o) => (o.ok ? { ok: false, refusal: new Refusal(reason) } : o));
  }

  private number(q: string): string {
    const tok = this.peek();
    if (tok?.t !== "const" || tok.c.t !== "num") throw new Refusal(`${q} needs a number, found ${describe(tok)}`);
    this.pos++;
    return tok.c.v;
  }

  private timestamp(q: string): number {
    const tok = this.peek();
    // STIX 2.1 writes t'2016-06-01T00:00:00Z'; STIX 2.0 wrote a plain string.
    const text = tok?.t === "const" && (tok.c.t === "str" || (tok.c.t === "typed" && tok.c.prefix === "t")) ? tok.c.v : undefined;
    const ms = text === undefined ? undefined : parseTime(text);
    if (ms === undefined) throw new Refusal(`${q} needs a timestamp, found ${describe(tok)}`);
    this.pos++;
    return ms;
  }

  private comparisonOr(): Dnf {
    let dnf = this.comparisonAnd();
    while (this.isWord("OR")) {
      this.pos++;
      dnf = concat(dnf, this.comparisonAnd());
    }
    return dnf;
  }

  private comparisonAnd(): Dnf {
    let dnf = this.comparisonTerm();
    while (this.isWord("AND")) {
      this.pos++;
      dnf = product(dnf, this.comparisonTerm());
    }
    return dnf;
  }

  private comparisonTerm(): Dnf {
    const tok = this.peek();
    if (tok?.t === "(") {
      this.pos++;
      const dnf = this.nested(() => this.comparisonOr());
      this.expect(")");
      return dnf;
    }
    let negated = false;
    if (this.isWord("NOT")) {
      negated = true;
      this.pos++;
    }
    if (this.isWord("EXISTS")) {
      this.pos++;
      const p = this.peek();
      if (p?.t !== "path") throw new Refusal(`expected an object path after EXISTS but found ${describe(p)}`);
      this.pos++;
      return [[{ object: p.object, props: p.props, op: "EXISTS", negated }]];
    }
    if (tok?.t !== "path" && !negated) throw new Refusal(`expected an object path but found ${describe(tok)}`);
    const path = this.peek();
    if (path?.t !== "path") throw new Refusal(`expected an object path but found ${describe(path)}`);
    this.pos++;
    if (this.isWord("NOT")) {
      negated = !negated;
      this.pos++;
    }
    const op = this.peek();
    this.pos++;
    const base = { object: path.object, props: path.props, negated };
    if (op?.t === "op") return [[{ ...base, op: op.v, value: this.constant() }]];
    if (op?.t !== "word") throw new Refusal(`operator ${describe(op)} is not supported (only =, IN and ISSUBSET)`);
    const word = op.v.toUpperCase();
    if (word === "IN") {
      this.expect("(");
      const values = [this.constant()];
      while (this.peek()?.t === ",") {
        this.pos++;
        values.push(this.constant());
      }
      this.expect(")");
      // IN is an OR of equalities; NOT IN is an AND of inequalities (one narrowing comparison).
      if (negated) return [[{ ...base, op: "IN" }]];
      if (values.length > MAX_ALTERNATIVES) throw new Refusal(`pattern expands to more than ${MAX_ALTERNATIVES} alternatives`);
      return values.map((v) => [{ ...base, op: "=", value: v }]);
    }
    if (word === "LIKE" || word === "MATCHES" || word === "ISSUBSET" || word === "ISSUPERSET") {
      return [[{ ...base, op: word, value: this.constant() }]];
    }
    throw new Refusal(`operator ${op.v} is not supported (only =, IN and ISSUBSET)`);
  }

  private constant(): Const {
    const tok = this.peek();
    if (tok?.t !== "const") throw new Refusal(`expected a quoted string but found ${describe(tok)}`);
    this.pos++;
    return tok.c;
  }
}

/**
 * Reads a STIX pattern. `ok` when at least one value can be imported (with `refused` listing the
 * alternatives left out, if any); otherwise the reason, and every alternative's refusal.
 */
export function parseStixPattern(pattern: string): PatternParse {
  // A pattern is parsed in one go: its length bounds that step (an IN list of ~30k values fits).
  if (pattern.length > MAX_PATTERN_CHARS) {
    const reason = `pattern of ${pattern.length} characters is longer than ${MAX_PATTERN_CHARS}; split it into several indicators`;
    return { ok: false, reason, refused: [{ reason }] };
  }
  let outcomes: Outcome[];
  try {
    outcomes = new Parser(tokenize(pattern)).parse();
  } catch (e) {
    // Only refusals are expected here; anything else is a bug and must surface.
    if (e instanceof Refusal) return { ok: false, reason: e.reason, refused: [toRefusal(e)] };
    throw e;
  }
  const values: PatternValue[] = [];
  const refused: PatternRefusal[] = [];
  for (const o of outcomes) {
    if (o.ok) values.push(o.value);
    else refused.push(toRefusal(o.refusal));
  }
  if (values.length > 0) return refused.length > 0 ? { ok: true, values, refused } : { ok: true, values };
  return { ok: false, reason: summarize(refused), refused };
}

function toRefusal(r: Refusal): PatternRefusal {
  return r.kind !== undefined ? { reason: r.reason, kind: r.kind } : { reason: r.reason };
}

/** Distinct reasons, the first three spelled out. */
export function summarize(refused: PatternRefusal[]): string {
  const reasons = [...new Set(refused.map((r) => r.reason))];
  const shown = reasons.slice(0, 3).join("; ");
  return reasons.length > 3 ? `${shown}; and ${reasons.length - 3} more` : shown;
}
