import type { SigmaEvent } from "@vigil/detection";
import type { RoutedInput } from "./engine-protocol";
import type { EventMeta } from "./event-meta";

/**
 * Checks a routed correlation input read back from the bus (issue #12): anyone who can publish on
 * the subject could have written it, so it is bounded and shape-checked before it reaches a
 * correlation window. Linear in its size; a failure names the first problem.
 */

/** Largest message accepted (an event carries command lines of up to 32 KiB, plus its metadata). */
export const MAX_ROUTED_BYTES = 256 * 1024;
const MAX_FIELDS = 512;
const MAX_ARRAY = 256;
const MAX_STRING = 64 * 1024;
const MAX_ID = 256;
const MAX_KEY = 8 * 1024;
const MAX_IOC_HITS = 256;
const MAX_DEVIATIONS = 32;

export class RoutedInputError extends Error {}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function fail(what: string): never {
  throw new RoutedInputError(what);
}

function id(v: unknown, name: string, max = MAX_ID): string {
  if (typeof v !== "string" || v.length === 0 || v.length > max) fail(`${name} must be a string of 1..${max} characters`);
  return v;
}

function scalar(v: unknown): boolean {
  return v === null || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)) || (typeof v === "string" && v.length <= MAX_STRING);
}

function event(v: unknown): SigmaEvent {
  if (!isRecord(v)) fail("ev must be an object");
  const { logsource, fields, timeMs } = v;
  if (typeof timeMs !== "number" || !Number.isFinite(timeMs)) fail("ev.timeMs must be a finite number");
  if (!isRecord(logsource)) fail("ev.logsource must be an object");
  const ls: SigmaEvent["logsource"] = {};
  for (const k of ["product", "category", "service"] as const) {
    const x = logsource[k];
    if (x === undefined) continue;
    ls[k] = id(x, `ev.logsource.${k}`);
  }
  if (!isRecord(fields)) fail("ev.fields must be an object");
  const keys = Object.keys(fields);
  if (keys.length > MAX_FIELDS) fail(`ev.fields has more than ${MAX_FIELDS} fields`);
  for (const k of keys) {
    const x = fields[k];
    if (k.length > MAX_ID) fail("ev.fields has a field name over 256 characters");
    if (Array.isArray(x) ? x.length > MAX_ARRAY || !x.every(scalar) : !scalar(x)) fail(`ev.fields.${k.slice(0, 64)} must be a scalar or a short list of scalars`);
  }
  return { logsource: ls, fields, timeMs };
}

function meta(v: unknown): EventMeta | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v) || !Array.isArray(v.iocHits) || v.iocHits.length > MAX_IOC_HITS) fail("meta.iocHits must be a list");
  for (const h of v.iocHits) {
    if (!isRecord(h) || typeof h.confidence !== "number" || !Number.isFinite(h.confidence)) fail("meta.iocHits entries need kind, value, confidence, source");
    id(h.kind, "meta.iocHits.kind", 32);
    id(h.value, "meta.iocHits.value", 2048);
    id(h.source, "meta.iocHits.source", 512);
  }
  if (v.deviations !== undefined) {
    if (!Array.isArray(v.deviations) || v.deviations.length > MAX_DEVIATIONS) fail("meta.deviations must be a short list");
    for (const d of v.deviations) if (!isRecord(d) || typeof d.kind !== "string" || typeof d.detail !== "string" || d.detail.length > 1024) fail("meta.deviations entries need kind and detail");
  }
  return v as unknown as EventMeta;
}

/** Hosts per clock notice (a chunk's agents that fed one partition). */
export const MAX_CLOCKS = 4096;

/** Inputs per batch message: what one detection chunk routes to one partition, in a few messages. */
export const MAX_BATCH_INPUTS = 256;

/**
 * A message on a correlation partition: a batch of routed inputs (the form replicas publish), one
 * routed input (the form of replicas before batches, still read so a rolling upgrade or a replay of
 * older messages loses nothing), or hosts' clocks (newest event times). A batch's inputs are checked
 * one by one: those that fail are listed in `rejected` and the others still count.
 */
export type CorrelationMessage = { kind: "inputs"; inputs: RoutedInput[]; rejected: RoutedInputError[] } | { kind: "input"; input: RoutedInput } | { kind: "clocks"; clocks: Map<string, number> };

/** Parses and checks one message; throws RoutedInputError naming what is wrong. */
export function parseCorrelationMessage(data: Uint8Array): CorrelationMessage {
  if (data.byteLength > MAX_ROUTED_BYTES) fail(`message over ${MAX_ROUTED_BYTES} bytes`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch {
    fail("message is not JSON");
  }
  if (!isRecord(v)) fail("message must be an object");
  if (v.clocks !== undefined) {
    if (!Array.isArray(v.clocks) || v.clocks.length > MAX_CLOCKS) fail(`clocks must be a list of at most ${MAX_CLOCKS} [agent, time] pairs`);
    const clocks = new Map<string, number>();
    for (const c of v.clocks) {
      if (!Array.isArray(c) || c.length !== 2 || typeof c[1] !== "number" || !Number.isFinite(c[1])) fail("clocks entries must be [agent, time]");
      clocks.set(id(c[0], "clocks agent", 128), c[1]);
    }
    return { kind: "clocks", clocks };
  }
  if (v.inputs !== undefined) {
    if (!Array.isArray(v.inputs) || v.inputs.length === 0 || v.inputs.length > MAX_BATCH_INPUTS) fail(`inputs must be a list of 1..${MAX_BATCH_INPUTS} routed inputs`);
    const inputs: RoutedInput[] = [];
    const rejected: RoutedInputError[] = [];
    for (const x of v.inputs) {
      try {
        if (!isRecord(x)) fail("each of inputs must be an object");
        inputs.push(routedInput(x));
      } catch (err) {
        if (!(err instanceof RoutedInputError)) throw err;
        rejected.push(err);
      }
    }
    return { kind: "inputs", inputs, rejected };
  }
  return { kind: "input", input: routedInput(v) };
}

function routedInput(v: Record<string, unknown>): RoutedInput {
  if (typeof v.seq !== "number" || !Number.isSafeInteger(v.seq)) fail("seq must be an integer");
  return {
    key: id(v.key, "key", MAX_KEY),
    anchor: id(v.anchor, "anchor"),
    target: id(v.target, "target"),
    rule: id(v.rule, "rule"),
    agentId: id(v.agentId, "agentId", 128),
    seq: v.seq,
    ev: event(v.ev),
    meta: meta(v.meta),
  };
}
