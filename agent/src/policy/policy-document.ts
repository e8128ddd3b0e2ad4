import type { IocKind } from "@vigil/detection";
import { LOCAL_POLICY_TYPES, MAX_POLICY_IOCS, type LocalPolicyType } from "@vigil/proto";

/** The only containment a local policy may take (COMMANDS[type].localPolicy); release/unblock stay with analysts. */
export const LOCAL_ACTION_TYPES: readonly LocalPolicyType[] = LOCAL_POLICY_TYPES;
export type LocalActionType = LocalPolicyType;

export interface PolicyRule {
  id: string;
  yaml: string;
}

export interface PolicyIoc {
  kind: IocKind;
  value: string;
  confidence?: number;
  source?: string;
}

export interface PolicyAction {
  type: LocalActionType;
  params: Record<string, unknown>;
}

/** policy_json of a PolicyUpdate, as the controller writes it. */
export interface LocalPolicyDocument {
  version: number;
  rules: PolicyRule[];
  iocs: PolicyIoc[];
  /** Actions per rule id (the policy rule's id, or the Sigma rule's own id). */
  actions: Map<string, PolicyAction[]>;
}

export class PolicyFormatError extends Error {}

const MAX_RULES = 2000;
const MAX_IOCS = MAX_POLICY_IOCS;
const IOC_KINDS: readonly IocKind[] = ["ip", "cidr", "domain", "sha256"];

function fail(path: string, problem: string): never {
  throw new PolicyFormatError(`${path}: ${problem}`);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(path, "must be an object");
  return v as Record<string, unknown>;
}

function arr(v: unknown, path: string, max: number): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(path, "must be an array");
  if (v.length > max) fail(path, `more than ${max} entries`);
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== "string" || v.length === 0) fail(path, "must be a non-empty string");
  return v;
}

/** Validates the shape strictly; the rule YAML and IOC values are checked when compiled. */
export function parsePolicyDocument(json: string): LocalPolicyDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new PolicyFormatError(`policy_json is not JSON: ${(e as Error).message}`);
  }
  const o = obj(raw, "policy");
  const version = o.version;
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0) fail("version", "must be a non-negative integer");
  const rules = arr(o.rules, "rules", MAX_RULES).map((r, i) => {
    const x = obj(r, `rules[${i}]`);
    return { id: str(x.id, `rules[${i}].id`), yaml: str(x.yaml, `rules[${i}].yaml`) };
  });
  const iocs = arr(o.iocs, "iocs", MAX_IOCS).map((r, i): PolicyIoc => {
    const x = obj(r, `iocs[${i}]`);
    if (!IOC_KINDS.includes(x.kind as IocKind)) fail(`iocs[${i}].kind`, `must be one of ${IOC_KINDS.join(", ")}`);
    const confidence = x.confidence;
    if (confidence !== undefined && (typeof confidence !== "number" || confidence < 0 || confidence > 100)) fail(`iocs[${i}].confidence`, "must be a number in [0, 100]");
    return { kind: x.kind as IocKind, value: str(x.value, `iocs[${i}].value`), confidence, source: x.source === undefined ? undefined : str(x.source, `iocs[${i}].source`) };
  });
  // The compact form: sets of values sharing kind, confidence and source (what the controller sends).
  let room = MAX_IOCS - iocs.length;
  arr(o.iocSets, "iocSets", MAX_IOCS).forEach((g, i) => {
    const x = obj(g, `iocSets[${i}]`);
    if (!IOC_KINDS.includes(x.kind as IocKind)) fail(`iocSets[${i}].kind`, `must be one of ${IOC_KINDS.join(", ")}`);
    const confidence = x.confidence;
    if (typeof confidence !== "number" || confidence < 0 || confidence > 100) fail(`iocSets[${i}].confidence`, "must be a number in [0, 100]");
    const source = str(x.source, `iocSets[${i}].source`);
    const values = arr(x.values, `iocSets[${i}].values`, room);
    room -= values.length;
    values.forEach((v, j) => iocs.push({ kind: x.kind as IocKind, value: str(v, `iocSets[${i}].values[${j}]`), confidence, source }));
  });
  const actions = new Map<string, PolicyAction[]>();
  arr(o.actions, "actions", MAX_RULES).forEach((a, i) => {
    const x = obj(a, `actions[${i}]`);
    const ruleId = str(x.ruleId, `actions[${i}].ruleId`);
    const list = arr(x.actions, `actions[${i}].actions`, 8).map((b, j): PolicyAction => {
      const y = obj(b, `actions[${i}].actions[${j}]`);
      if (!LOCAL_ACTION_TYPES.includes(y.type as LocalActionType)) fail(`actions[${i}].actions[${j}].type`, `must be one of ${LOCAL_ACTION_TYPES.join(", ")}`);
      return { type: y.type as LocalActionType, params: y.params === undefined ? {} : obj(y.params, `actions[${i}].actions[${j}].params`) };
    });
    actions.set(ruleId, [...(actions.get(ruleId) ?? []), ...list]);
  });
  return { version, rules, iocs, actions };
}
