import type { RealAgent } from "./agents";
import type { Controller } from "./controller";
import type { HealthProbe } from "./prober";

/** One attack's verdict, decided from what could be observed. */
export interface Outcome {
  /** Class in issue #10 and letter, e.g. "1a". */
  id: string;
  attack: string;
  held: boolean;
  /** The number (or fact) the verdict rests on. */
  measured: string;
  /** Set when the attack could not mean anything here (e.g. it needs root): printed, not counted. */
  skipped?: string;
}

export interface Ctx {
  c: Controller;
  agent: RealAgent;
  probe: HealthProbe;
  tmp: string;
  /** The agent binary the controller serves (VIGIL_AGENT_BINARY). */
  servedBinary: string;
  /** healthz latencies during the regex and body floods (the headline p99). */
  underAttack: number[];
  /** Signed commands issued during the run, for the replay attack. */
  signedCommands: string[];
  /** A certified attacker identity's agent id, where an attack needs a target that runs nothing. */
  decoyAgentId?: string;
}

export const HEALTHZ_P99_MS = 100;

export function ms(v: number): string {
  return `${v.toFixed(0)} ms`;
}
