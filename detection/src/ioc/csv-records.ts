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

/**
 * Splits text into records. Blank lines and lines starting with '#' (feeds put licences and
 * timestamps there) are skipped. A malformed record is reported and reading resumes at the next line.
 */
export function readCsvRecords(text: string): CsvRecords {
  const records: CsvRecord[] = [];
  const errors: CsvRecordError[] = [];
  const comments: CsvComment[] = [];
  // Line endings are unified first so CRLF, LF and old-Mac CR files count lines the same way.
  const src = (text.startsWith("\uFEFF") ? text.slice(1) : text).replace(/\r\n?/g, "\n");
  let i = 0;
  let line = 1;
  const n = src.length;

  while (i < n) {
    const startLine = line;
    const start = i;
    // Skip blank and comment lines.
    if (src[i] === "\n" || src[i] === "#") {
      const isComment = src[i] === "#";
      while (i < n && src[i] !== "\n") i++;
      if (isComment) comments.push({ line: startLine, text: src.slice(start, i).replace(/^#+/, "").trim() });
      if (i < n) i++;
      line++;
      continue;
    }
    const fields: string[] = [];
    let error: string | undefined;
    for (;;) {
      let field = "";
      let q = i;
      while (q < n && (src[q] === " " || src[q] === "\t")) q++;
      if (src[q] === '"') {
        i = q + 1;
        let closed = false;
        while (i < n) {
          const c = src[i] as string;
          if (c === '"') {
            if (src[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === "\n") line++;
          field += c;
          i++;
        }
        if (!closed) {
          error = `line ${startLine}: quoted field is never closed`;
          break;
        }
        while (i < n && (src[i] === " " || src[i] === "\t")) i++;
        if (i < n && src[i] !== "," && src[i] !== "\n") {
          error = `line ${startLine}: unexpected text after a closing quote in field ${fields.length + 1}`;
          break;
        }
      } else {
        while (i < n && src[i] !== "," && src[i] !== "\n") {
          field += src[i];
          i++;
        }
      }
      fields.push(field);
      if (i < n && src[i] === ",") {
        i++;
        continue;
      }
      break;
    }
    if (error !== undefined) {
      errors.push({ line: startLine, message: error });
      // Resume on the line after the one the broken record started on, so the lines a runaway
      // quote swallowed are still read (and reported if they are bad too).
      i = start;
      line = startLine;
      while (i < n && src[i] !== "\n") i++;
    } else {
      records.push({ line: startLine, fields });
    }
    if (src[i] === "\n") {
      i++;
      line++;
    }
  }
  return { records, errors, comments };
}
