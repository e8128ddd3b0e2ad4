import { BadRequestException } from "@nestjs/common";

/** Request-body checks that name the offending field in their 400. */
export function bodyObject(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (body === undefined || body === null || body === "") return {};
  if (typeof body !== "object" || Array.isArray(body)) throw new BadRequestException("request body must be a JSON object");
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw new BadRequestException(`unknown field "${k.slice(0, 64)}"; allowed: ${allowed.join(", ")}`);
  return body as Record<string, unknown>;
}

export function fieldString(b: Record<string, unknown>, name: string, max: number, required = false): string | undefined {
  const v = b[name];
  if (v === undefined || v === null) {
    if (required) throw new BadRequestException(`field "${name}" is required`);
    return undefined;
  }
  if (typeof v !== "string") throw new BadRequestException(`field "${name}" must be a string`);
  if (v.length > max) throw new BadRequestException(`field "${name}" is longer than ${max} characters`);
  return v;
}

export function fieldInt(b: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new BadRequestException(`field "${name}" must be an integer between ${min} and ${max}`);
  return v;
}

export function fieldStrings(b: Record<string, unknown>, name: string, maxItems: number, maxLen: number): string[] | undefined {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > maxItems || !v.every((x) => typeof x === "string" && x.length <= maxLen))
    throw new BadRequestException(`field "${name}" must be a list of at most ${maxItems} strings of at most ${maxLen} characters`);
  return v as string[];
}
