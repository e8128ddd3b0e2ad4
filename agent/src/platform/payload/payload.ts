import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isSea } from "node:sea";
import { compileFunction } from "node:vm";
import { readTailSection } from "./tail-section";

/**
 * Code the running agent never needs but its short-lived parts do: systeminformation (the
 * `inventory` child) and @peculiar/x509 with its polyfill (enroll, certificate renewal), ~0.9 MB of
 * source. In the single script V8 keeps all of it as one string on the heap, on top of the binary's
 * pages it was read from, in every agent all day; as a payload it is read only by what uses it.
 *
 * scripts/build/bundle-agent.mjs builds dist/vigil-agent-payload.cjs and puts its sha256 into the
 * agent bundle (VIGIL_PAYLOAD_SHA256), whose `require` of those packages it turns into this loader;
 * sea-agent.mjs appends the payload to the SEA binary. The hash that is checked is the one inside
 * the agent's own script, so a payload swapped on disk or in the binary's tail is never run. From
 * source (tests, tsx) none of this is used: the packages come from node_modules.
 */
export const PAYLOAD_MAGIC = "VGLPAYL1";
export const PAYLOAD_FILE = "vigil-agent-payload.cjs";
/** The payload is ~1 MB; anything far larger is not ours. */
const MAX_PAYLOAD_BYTES = 16 << 20;

declare const VIGIL_PAYLOAD_SHA256: string;

/** What the payload exports: each package, loaded on first call. */
export interface Payload {
  systeminformation(): unknown;
  reflectMetadata(): unknown;
  x509(): unknown;
}

let loaded: Payload | undefined;

/** The payload's source: from this binary's tail (SEA), else the file beside the bundle. */
function payloadSource(expected: string): string {
  let bytes: Buffer;
  if (isSea()) {
    const section = readTailSection(process.execPath, PAYLOAD_MAGIC, MAX_PAYLOAD_BYTES);
    if (!section) throw new Error(`${process.execPath} carries no payload (built without scripts/build/sea-agent.mjs?)`);
    bytes = section.bytes;
  } else {
    bytes = readFileSync(join(__dirname, PAYLOAD_FILE));
  }
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== expected) throw new Error(`the agent's payload does not match the hash built into it (sha256 ${actual.slice(0, 12)}…, expected ${expected.slice(0, 12)}…)`);
  return bytes.toString("utf8");
}

/** Loads the payload once (checked against the hash built into this script) and returns its exports. */
export function loadPayload(): Payload {
  if (loaded) return loaded;
  const module = { exports: {} as Payload };
  // Built-in modules only: the payload is a bundle, and a SEA's require has nothing else.
  const body = compileFunction(payloadSource(VIGIL_PAYLOAD_SHA256), ["exports", "require", "module"], { filename: PAYLOAD_FILE }) as (e: Payload, r: NodeJS.Require, m: { exports: Payload }) => void;
  body(module.exports, require, module);
  loaded = module.exports;
  return loaded;
}
