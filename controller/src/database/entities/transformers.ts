import type { ValueTransformer } from "typeorm";

/** PostgreSQL returns BIGINT as a string; millisecond timestamps and sequence numbers fit in a double. */
export const bigintMs: ValueTransformer = {
  to: (v: number | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? 0 : Number(v)),
};
