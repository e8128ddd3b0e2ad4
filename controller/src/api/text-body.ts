import { StringDecoder } from "node:string_decoder";
import { BadRequestException, PayloadTooLargeException } from "@nestjs/common";

interface RawRequest {
  body?: unknown;
  headers: Record<string, string | string[] | undefined>;
  readableEnded?: boolean;
  on(ev: "data", cb: (c: Buffer) => void): unknown;
  on(ev: "end" | "error", cb: (e?: unknown) => void): unknown;
}

export function contentType(req: Pick<RawRequest, "headers">): string {
  const v = req.headers["content-type"];
  return (Array.isArray(v) ? v[0] : (v ?? "")).split(";")[0]!.trim().toLowerCase();
}

/**
 * The request body as text for types Nest's JSON parser leaves alone (text/yaml, text/csv,
 * application/stix+json): read from the stream here, with a size cap.
 */
export async function readText(req: RawRequest, maxBytes: number): Promise<string> {
  if (typeof req.body === "string") return req.body;
  if (req.readableEnded) throw new BadRequestException("request body is empty or was already read");
  return new Promise((resolve, reject) => {
    // Decoded as it arrives, so a 20 MB body is not copied and decoded in one go at the end.
    const decoder = new StringDecoder("utf8");
    const parts: string[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) reject(new PayloadTooLargeException(`request body is larger than ${maxBytes} bytes`));
      else parts.push(decoder.write(c));
    });
    req.on("end", () => resolve(parts.join("") + decoder.end()));
    req.on("error", (e) => reject(new BadRequestException(`reading the request body failed: ${String(e)}`)));
  });
}
