/** Reads a (multi-document) YAML rule file, keeping enough of the syntax tree to name lines in errors. */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from "yaml";

export interface RuleDoc {
  /** 0-based index of the document inside its file */
  index: number;
  value: unknown;
  /** 1-based line where this document starts */
  line: number;
  lineOf(path: (string | number)[]): number;
  error?: { message: string; line?: number };
}

export function readYamlDocs(text: string): RuleDoc[] {
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  if (!Array.isArray(docs)) return [];
  return docs.map((doc, index) => {
    const start = doc.range?.[0] ?? 0;
    const line = lc.linePos(start).line;
    const lineOf = (path: (string | number)[]): number => {
      const off = offsetOf(doc, path);
      return off === undefined ? line : lc.linePos(off).line;
    };
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const errLine = e.linePos?.[0]?.line;
      // Keep only the first line of yaml's message; the rest is a source excerpt.
      return { index, value: undefined, line, lineOf, error: { message: e.message.split("\n")[0], line: errLine } };
    }
    try {
      return { index, value: doc.toJS({ maxAliasCount: 100 }) as unknown, line, lineOf };
    } catch (err) {
      // Valid syntax that cannot be resolved (an alias before its anchor, alias bombs): a rule error, not a crash.
      return { index, value: undefined, line, lineOf, error: { message: (err as Error).message.split("\n")[0], line } };
    }
  });
}

/** Offset of the deepest key (or item) along `path` that exists in the document. */
function offsetOf(doc: Document, path: (string | number)[]): number | undefined {
  let node: unknown = doc.contents;
  let found: number | undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      if (isScalar(pair.key) && pair.key.range) found = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as { range?: [number, number, number] } | undefined;
      if (!item) break;
      if (item.range) found = item.range[0];
      node = item;
    } else break;
  }
  return found;
}
