import { AuthAction, AuthEvent, ProcessAction, ProcessEvent } from "@vigil/proto";
import type { EventBody } from "../sensor";

/** The body types the synthetic source can produce; each lands in a different spool priority. */
export const SYNTHETIC_KINDS = ["agent", "process", "auth"] as const;
export type SyntheticKind = (typeof SYNTHETIC_KINDS)[number];

export class SyntheticMixError extends Error {}

/**
 * "process:8,auth:1,agent:1" → a repeating pattern of kinds. The kind of event n
 * is pattern[(n - 1) % pattern.length], so a test can compute, for every number,
 * which priority it had and therefore whether the full policy may drop it.
 */
export function parseMix(spec: string): SyntheticKind[] {
  const pattern: SyntheticKind[] = [];
  for (const part of spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [kind, weightText = "1"] = part.split(":");
    if (!SYNTHETIC_KINDS.includes(kind as SyntheticKind)) throw new SyntheticMixError(`unknown kind "${kind}" (expected ${SYNTHETIC_KINDS.join(", ")})`);
    const weight = Number(weightText);
    if (!Number.isInteger(weight) || weight < 1 || weight > 1000) throw new SyntheticMixError(`weight of "${kind}" must be an integer 1..1000, got "${weightText}"`);
    for (let i = 0; i < weight; i++) pattern.push(kind as SyntheticKind);
  }
  if (pattern.length === 0) throw new SyntheticMixError("empty mix");
  return pattern;
}

export function kindOf(pattern: readonly SyntheticKind[], n: number): SyntheticKind {
  return pattern[(n - 1) % pattern.length]!;
}

/**
 * Event n of the given kind. Every body carries n where the controller stores and
 * searches it (attributes.n, the command line, the raw auth line), and uses
 * values no detection rule reacts to (no real binary, no login outcome).
 */
export function syntheticBody(kind: SyntheticKind, n: number, nowMs: number): EventBody {
  switch (kind) {
    case "agent":
      return { $case: "agent", agent: { kind: "synthetic", message: `synthetic ${n}`, attributes: { n: String(n) } } };
    case "process":
      return {
        $case: "process",
        process: ProcessEvent.fromPartial({ action: ProcessAction.PROCESS_ACTION_START, exe: "/vigil/synthetic", name: "synthetic", commandLine: `synthetic n=${n}`, startTimeMs: nowMs }),
      };
    case "auth":
      return { $case: "auth", auth: AuthEvent.fromPartial({ action: AuthAction.AUTH_ACTION_UNSPECIFIED, service: "synthetic", raw: `synthetic n=${n}` }) };
  }
}
