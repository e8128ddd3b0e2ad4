import { join } from "node:path";
import { ROOT } from "../report";

/**
 * The checkout whose built controller and agent are attacked: this one, or
 * another (VIGIL_ADVERSARIAL_ROOT, e.g. a branch with a fix under review, built)
 * so the harness can be tried against a fix before it is merged.
 */
export const UNDER_TEST = process.env.VIGIL_ADVERSARIAL_ROOT ?? ROOT;

export const CONTROLLER_BIN = join(UNDER_TEST, "controller/bin/vigil-controller.js");
export const AGENT_BUNDLE = join(UNDER_TEST, "dist/vigil-agent.cjs");

/** A module of the checkout under test (built controller code, or agent TS run by tsx). */
export function underTest<T>(rel: string): Promise<T> {
  return import(join(UNDER_TEST, rel)) as Promise<T>;
}
