/** Encoding modifiers: base64, base64offset and the UTF-16 family. Values travel as bytes between them. */

export type Encoding = "utf16le" | "utf16be" | "utf16" | "wide";

export function utf16(text: string, enc: Encoding): Buffer {
  const le = Buffer.from(text, "utf16le");
  if (enc === "utf16le" || enc === "wide") return le;
  const be = Buffer.from(le);
  be.swap16();
  // `utf16` means little-endian with a byte order mark, as Windows writes it.
  return enc === "utf16be" ? be : Buffer.concat([Buffer.from([0xff, 0xfe]), le]);
}

export function base64(bytes: Buffer): string {
  return bytes.toString("base64");
}

/**
 * The three encodings of `bytes` as it may appear at any offset inside a longer base64 string:
 * the value is shifted by 0, 1 and 2 bytes, and the characters that would depend on the unknown
 * neighbouring bytes are cut from both ends.
 */
export function base64Offsets(bytes: Buffer): string[] {
  const startCut = [0, 2, 3];
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const enc = Buffer.concat([Buffer.alloc(shift, 0x20), bytes]).toString("base64");
    const rem = (bytes.length + shift) % 3;
    const endCut = rem === 0 ? 0 : rem === 1 ? 3 : 2;
    out.push(enc.slice(startCut[shift], enc.length - endCut));
  }
  return out;
}

/** Bytes compared against event text as one character per byte (latin1). */
export function bytesAsText(bytes: Buffer): string {
  return bytes.toString("latin1");
}
