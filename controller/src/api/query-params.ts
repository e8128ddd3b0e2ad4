import { BadRequestException } from "@nestjs/common";

/** Query-string parsing that names the offending parameter in its 400. */
export function optString(q: Record<string, unknown>, name: string, max = 256): string | undefined {
  const v = q[name];
  if (v === undefined || v === "") return undefined;
  if (typeof v !== "string") throw new BadRequestException(`query parameter "${name}" must be given once, as a string`);
  if (v.length > max) throw new BadRequestException(`query parameter "${name}" is longer than ${max} characters`);
  return v;
}

export function optInt(q: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const s = optString(q, name, 32);
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s)) throw new BadRequestException(`query parameter "${name}" must be an integer, got "${s}"`);
  const n = Number(s);
  if (n < min || n > max) throw new BadRequestException(`query parameter "${name}" must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function optEnum<T extends string>(q: Record<string, unknown>, name: string, values: readonly T[]): T | undefined {
  const s = optString(q, name, 64);
  if (s === undefined) return undefined;
  if (!values.includes(s as T)) throw new BadRequestException(`query parameter "${name}" must be one of ${values.join(", ")}; got "${s}"`);
  return s as T;
}

/** ISO 8601 or milliseconds since the epoch. */
export function optTime(q: Record<string, unknown>, name: string): number | undefined {
  const s = optString(q, name, 64);
  if (s === undefined) return undefined;
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(ms)) throw new BadRequestException(`query parameter "${name}" must be an ISO 8601 time or epoch milliseconds, got "${s}"`);
  return ms;
}

export function rejectUnknown(q: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(q)) {
    if (!allowed.includes(k)) throw new BadRequestException(`unknown query parameter "${k}"; allowed: ${allowed.join(", ")}`);
  }
}
