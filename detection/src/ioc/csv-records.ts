/**
 * RFC 4180 record splitting: quoted fields, doubled quotes, CRLF or LF, newlines inside quotes.
 * One leniency: blanks around a quoted field are allowed (abuse.ch exports write `"a", "b"`).
 * Kept apart from the IOC mapping so the quoting rules are tested on their own.
 */

export interface CsvRecord {
  /** 1-based line on which the record starts. */
  line: number;
  fields: string[];
}

export interface CsvRecordError {
  line: number;
  message: string;
}

/** A '#' line, kept because feeds put the column header in the last one (abuse.ch). */
export interface CsvComment {
  line: number;
  /** The text after the leading '#' characters, trimmed. */
  text: string;
}

export interface CsvRecords {
  records: CsvRecord[];
  errors: CsvRecordError[];
  comments: CsvComment[];
}

export type CsvItem = ({ kind: "record" } & CsvRecord) | ({ kind: "error" } & CsvRecordError) | ({ kind: "comment" } & CsvComment);

const isNl = (c: string | undefined): boolean => c === "\n" || c === "\r";

/**
 * Reads records one at a time, so a caller can stop after the header or hand the thread back
 * between records (a 20 MB feed is read in slices, never in one go). CRLF, LF and old-Mac CR
 * count lines the same way; inside quotes either becomes "\n". Blank lines and lines starting with
 * '#' (feeds put licences and timestamps there) are skipped, '#' lines returned as comments. A
 * malformed record is reported and reading resumes at the next line.
 */
export class CsvRecordReader {
  private i: number;
  private line = 1;

  constructor(private readonly src: string) {
    this.i = src.startsWith("\uFEFF") ? 1 : 0;
  }

  /** Past the line end at i (CRLF counts as one). */
  private skipNl(i: number): number {
    return this.src[i] === "\r" && this.src[i + 1] === "\n" ? i + 2 : i + 1;
  }

  next(): CsvItem | undefined {
    const src = this.src;
    const n = src.length;
    while (this.i < n) {
      const startLine = this.line;
      const start = this.i;
      let i = this.i;
      // Blank and comment lines.
      if (isNl(src[i]) || src[i] === "#") {
        const isComment = src[i] === "#";
        while (i < n && !isNl(src[i])) i++;
        const text = src.slice(start, i);
        this.i = i < n ? this.skipNl(i) : i;
        this.line++;
        if (isComment) return { kind: "comment", line: startLine, text: text.replace(/^#+/, "").trim() };
        continue;
      }
      const fields: string[] = [];
      let error: string | undefined;
      let line = startLine;
      for (;;) {
        let field = "";
        let q = i;
        while (q < n && (src[q] === " " || src[q] === "\t")) q++;
        if (src[q] === '"') {
          i = q + 1;
          let closed = false;
          let from = i;
          while (i < n) {
            const c = src[i] as string;
            if (c === '"') {
              field += src.slice(from, i);
              if (src[i + 1] === '"') {
                field += '"';
                i += 2;
                from = i;
                continue;
              }
              i++;
              closed = true;
              break;
            }
            if (isNl(c)) {
              field += src.slice(from, i) + "\n";
              line++;
              i = this.skipNl(i);
              from = i;
              continue;
            }
            i++;
          }
          if (!closed) {
            error = `line ${startLine}: quoted field is never closed`;
            break;
          }
          while (i < n && (src[i] === " " || src[i] === "\t")) i++;
          if (i < n && src[i] !== "," && !isNl(src[i])) {
            error = `line ${startLine}: unexpected text after a closing quote in field ${fields.length + 1}`;
            break;
          }
        } else {
          const from = i;
          while (i < n && src[i] !== "," && !isNl(src[i])) i++;
          field = src.slice(from, i);
        }
        fields.push(field);
        if (i < n && src[i] === ",") {
          i++;
          continue;
        }
        break;
      }
      if (error !== undefined) {
        // Resume on the line after the one the broken record started on, so the lines a runaway
        // quote swallowed are still read (and reported if they are bad too).
        i = start;
        line = startLine;
        while (i < n && !isNl(src[i])) i++;
      }
      if (i < n && isNl(src[i])) {
        i = this.skipNl(i);
        line++;
      }
      this.i = i;
      this.line = line;
      return error !== undefined ? { kind: "error", line: startLine, message: error } : { kind: "record", line: startLine, fields };
    }
    return undefined;
  }
}

/** Splits the whole text into records (see CsvRecordReader). */
export function readCsvRecords(text: string): CsvRecords {
  const out: CsvRecords = { records: [], errors: [], comments: [] };
  const r = new CsvRecordReader(text);
  for (let item = r.next(); item; item = r.next()) {
    if (item.kind === "record") out.records.push({ line: item.line, fields: item.fields });
    else if (item.kind === "error") out.errors.push({ line: item.line, message: item.message });
    else out.comments.push({ line: item.line, text: item.text });
  }
  return out;
}
