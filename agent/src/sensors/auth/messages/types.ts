import type { AuthEvent } from "@vigil/proto";

/** What one message says, before the header (time, host, pid, raw) is added. */
export interface MessageMatch {
  fields: Partial<AuthEvent>;
  /** How many times it happened ("message repeated N times"); 1 otherwise. */
  repeat: number;
}

export function match(fields: Partial<AuthEvent>): MessageMatch {
  return { fields, repeat: 1 };
}
