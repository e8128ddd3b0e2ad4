/**
 * The subset of the STIX 2.1 patterning language that expresses plain indicator values:
 *   [ipv4-addr:value = '1.2.3.4']
 *   [ipv6-addr:value = '2001:db8::/32']            (CIDR values are ranges)
 *   [ipv4-addr:value ISSUBSET '10.0.0.0/8']
 *   [domain-name:value = 'evil.com']
 *   [file:hashes.'SHA-256' = '...'] / file:hashes.SHA256
 *   [domain-name:value IN ('a.com', 'b.com')]
 * and OR of these, inside one observation or between observations. Anything that needs state across
 * several values (AND, FOLLOWEDBY, qualifiers, MATCHES, LIKE, NOT, comparisons other than equality)
 * is refused with the reason, because an IOC list cannot express it faithfully.
 */

export interface PatternValue {
  /** "ip" covers single addresses and CIDRs; normalisation decides which. */
  kind: "ip" | "domain" | "sha256";
  /** The IP family the object type promises, checked against the value. */
  family?: 4 | 6;
  value: string;
}

export type PatternParse = { ok: true; values: PatternValue[] } | { ok: false; reason: string };

type Tok =
  | { t: "[" | "]" | "(" | ")" | "," }
  | { t: "str"; v: string }
  | { t: "path"; object: string; props: string[] }
  | { t: "word"; v: string }
  | { t: "op"; v: string };

class Refusal {
  constructor(readonly reason: string) {}
}

const WORD_CHAR = /[A-Za-z0-9_-]/;
const MAX_DEPTH = 32;

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
      toks.push({ t: "str", v: readString() });
    } else if (c === "=" || c === "!" || c === "<" || c === ">") {
      const two = src.slice(i, i + 2);
      const op = two === "!=" || two === "<=" || two === ">=" ? two : c;
      if (op === "!") throw new Refusal("unexpected '!'");
      toks.push({ t: "op", v: op });
      i += op.length;
    } else if (WORD_CHAR.test(c)) {
      const word = readWord();
      if (src[i] !== ":") {
        toks.push({ t: "word", v: word });
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
        if (src[i] === "[") throw new Refusal(`list index in object path '${word}:${props.join(".")}' is not supported`);
        if (src[i] !== ".") break;
        i++;
      }
      toks.push({ t: "path", object: word, props });
    } else {
      throw new Refusal(`unexpected character '${c}'`);
    }
  }
  return toks;
}

function describe(tok: Tok | undefined): string {
  if (!tok) return "end of pattern";
  switch (tok.t) {
    case "str":
      return `'${tok.v}'`;
    case "path":
      return `${tok.object}:${tok.props.join(".")}`;
    case "word":
    case "op":
      return tok.v;
    default:
      return tok.t;
  }
}

function toValue(object: string, props: string[], value: string): PatternValue {
  const path = `${object}:${props.join(".")}`;
  const only = (name: string): boolean => props.length === 1 && props[0] === name;
  if (object === "ipv4-addr" && only("value")) return { kind: "ip", family: 4, value };
  if (object === "ipv6-addr" && only("value")) return { kind: "ip", family: 6, value };
  if (object === "domain-name" && only("value")) return { kind: "domain", value };
  if (object === "file" && props.length === 2 && props[0] === "hashes") {
    const algo = (props[1] as string).toUpperCase().replace(/-/g, "");
    if (algo === "SHA256") return { kind: "sha256", value };
    throw new Refusal(`hash algorithm '${props[1]}' is not supported (only SHA-256)`);
  }
  throw new Refusal(`object path '${path}' is not supported (ipv4-addr:value, ipv6-addr:value, domain-name:value, file:hashes.'SHA-256')`);
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly toks: Tok[]) {}

  parse(): PatternValue[] {
    const values = this.observationExpr();
    if (this.pos < this.toks.length) throw new Refusal(`unexpected ${describe(this.peek())} after the pattern`);
    return values;
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

  private observationExpr(): PatternValue[] {
    const values = this.observationTerm();
    for (;;) {
      if (this.isWord("OR")) {
        this.pos++;
        values.push(...this.observationTerm());
        continue;
      }
      if (this.isWord("AND") || this.isWord("FOLLOWEDBY")) {
        throw new Refusal(`observation operator ${describe(this.peek())} is not supported (only OR)`);
      }
      return values;
    }
  }

  private observationTerm(): PatternValue[] {
    const tok = this.peek();
    let values: PatternValue[];
    if (tok?.t === "(") {
      this.pos++;
      values = this.nested(() => this.observationExpr());
      this.expect(")");
    } else if (tok?.t === "[") {
      this.pos++;
      values = this.comparisonExpr();
      this.expect("]");
    } else {
      throw new Refusal(`expected '[' but found ${describe(tok)}`);
    }
    for (const q of ["WITHIN", "REPEATS", "START"]) {
      if (this.isWord(q)) throw new Refusal(`qualifier ${q} is not supported`);
    }
    return values;
  }

  private comparisonExpr(): PatternValue[] {
    const values = this.comparisonTerm();
    for (;;) {
      if (this.isWord("OR")) {
        this.pos++;
        values.push(...this.comparisonTerm());
        continue;
      }
      if (this.isWord("AND")) throw new Refusal("comparison operator AND is not supported (only OR)");
      return values;
    }
  }

  private comparisonTerm(): PatternValue[] {
    const tok = this.peek();
    if (tok?.t === "(") {
      this.pos++;
      const values = this.nested(() => this.comparisonExpr());
      this.expect(")");
      return values;
    }
    if (tok?.t !== "path") throw new Refusal(`expected an object path but found ${describe(tok)}`);
    this.pos++;
    const op = this.peek();
    this.pos++;
    if (op?.t === "op" && op.v === "=") return [toValue(tok.object, tok.props, this.string())];
    if (op?.t === "word" && op.v.toUpperCase() === "ISSUBSET") {
      const v = toValue(tok.object, tok.props, this.string());
      if (v.kind !== "ip") throw new Refusal("ISSUBSET only applies to IP addresses");
      if (!v.value.includes("/")) throw new Refusal(`ISSUBSET needs a CIDR, got '${v.value}'`);
      return [v];
    }
    if (op?.t === "word" && op.v.toUpperCase() === "IN") {
      this.expect("(");
      const values = [toValue(tok.object, tok.props, this.string())];
      while (this.peek()?.t === ",") {
        this.pos++;
        values.push(toValue(tok.object, tok.props, this.string()));
      }
      this.expect(")");
      return values;
    }
    throw new Refusal(`operator ${describe(op)} is not supported (only =, IN and ISSUBSET)`);
  }

  private string(): string {
    const tok = this.peek();
    if (tok?.t !== "str") throw new Refusal(`expected a quoted string but found ${describe(tok)}`);
    this.pos++;
    return tok.v;
  }
}

export function parseStixPattern(pattern: string): PatternParse {
  try {
    return { ok: true, values: new Parser(tokenize(pattern)).parse() };
  } catch (e) {
    // Only refusals are expected here; anything else is a bug and must surface.
    if (e instanceof Refusal) return { ok: false, reason: e.reason };
    throw e;
  }
}
