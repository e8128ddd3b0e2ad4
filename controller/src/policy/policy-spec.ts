import { BUILTIN_RULES, compileRules } from "@vigil/detection";
import { CommandParamError, LOCAL_POLICY_TYPES, MAX_POLICY_RULE_BYTES, validatePresetParams, type LocalPolicyType } from "@vigil/proto";

/** What an agent may do on its own: decided per command type in the shared command contract. */
export type LocalActionType = LocalPolicyType;
const LOCAL_ACTIONS: readonly LocalActionType[] = LOCAL_POLICY_TYPES;

/** What an admin sets: which rules the agents evaluate themselves, and what they do on a hit. */
export interface AgentPolicySpec {
  /** Built-in rules by id, or uploaded Sigma YAML. */
  rules: Array<{ id: string; yaml?: string }>;
  /** Ship the controller's IOC lists so the agent matches them offline. */
  includeIocs: boolean;
  actions: Array<{ ruleId: string; actions: Array<{ type: LocalActionType; params?: Record<string, unknown> }> }>;
}

export class PolicySpecError extends Error {}

/** The built-in file that defines a rule id (whole file, so a correlation brings its base rules). */
export function builtinRuleText(id: string): string | undefined {
  const re = new RegExp(`^id:\\s*${id.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`, "m");
  return BUILTIN_RULES.find((r) => re.test(r.text))?.text;
}

export function validatePolicySpec(raw: unknown): AgentPolicySpec {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new PolicySpecError("body: expected {rules, includeIocs, actions}");
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!["rules", "includeIocs", "actions"].includes(k)) throw new PolicySpecError(`${k}: unknown field`);
  if (!Array.isArray(o.rules) || o.rules.length > 200) throw new PolicySpecError("rules: expected a list of at most 200 {id, yaml?}");
  const rules = o.rules.map((r, i) => {
    if (!r || typeof r !== "object") throw new PolicySpecError(`rules[${i}]: expected {id, yaml?}`);
    const { id, yaml } = r as { id?: unknown; yaml?: unknown };
    if (typeof id !== "string" || !id) throw new PolicySpecError(`rules[${i}].id: required`);
    if (yaml !== undefined && (typeof yaml !== "string" || yaml.length > 256 * 1024)) throw new PolicySpecError(`rules[${i}].yaml: expected Sigma YAML text (at most 256 KiB)`);
    const text = (yaml as string | undefined) ?? builtinRuleText(id);
    if (!text) throw new PolicySpecError(`rules[${i}].id: "${id}" is not a built-in rule; give its yaml`);
    const { ruleset, errors } = compileRules([{ name: `policy rule ${id}`, text }]);
    if (errors.length) throw new PolicySpecError(`rules[${i}]: ${errors[0].message}`);
    if (!ruleset.rules.some((x) => x.id === id)) throw new PolicySpecError(`rules[${i}].yaml: defines no rule with id "${id}"`);
    return yaml === undefined ? { id } : { id, yaml: yaml as string };
  });
  // Rules ship to every agent inside the policy: their text together is bounded, so the IOCs keep room.
  const ruleBytes = rules.reduce((n, r) => n + Buffer.byteLength(r.yaml ?? builtinRuleText(r.id) ?? ""), 0);
  if (ruleBytes > MAX_POLICY_RULE_BYTES)
    throw new PolicySpecError(`rules: ${ruleBytes} bytes of rule YAML in all, more than the ${MAX_POLICY_RULE_BYTES} an agent policy may carry; ship fewer or smaller rules`);
  const includeIocs = o.includeIocs === undefined ? false : o.includeIocs;
  if (typeof includeIocs !== "boolean") throw new PolicySpecError("includeIocs: expected true or false");
  if (!Array.isArray(o.actions) || o.actions.length > 200) throw new PolicySpecError("actions: expected a list of {ruleId, actions}");
  const ids = new Set(rules.map((r) => r.id));
  const actions = o.actions.map((a, i) => {
    const ar = (a ?? {}) as { ruleId?: unknown; actions?: unknown };
    if (typeof ar.ruleId !== "string" || !ids.has(ar.ruleId)) throw new PolicySpecError(`actions[${i}].ruleId: must name one of the policy's rules`);
    if (!Array.isArray(ar.actions) || ar.actions.length === 0 || ar.actions.length > 5) throw new PolicySpecError(`actions[${i}].actions: expected 1-5 actions`);
    return {
      ruleId: ar.ruleId,
      actions: ar.actions.map((x, j) => {
        const xr = (x ?? {}) as { type?: unknown; params?: unknown };
        if (!LOCAL_ACTIONS.includes(xr.type as LocalActionType))
          throw new PolicySpecError(`actions[${i}].actions[${j}].type: expected one of ${LOCAL_ACTIONS.join(", ")} (an agent never releases on its own)`);
        if (xr.params !== undefined && (typeof xr.params !== "object" || Array.isArray(xr.params))) throw new PolicySpecError(`actions[${i}].actions[${j}].params: expected a map`);
        try {
          // The fixed params (the rest comes from the event that fired) obey the same contract as a signed command's.
          if (xr.params) validatePresetParams(xr.type as LocalActionType, xr.params as Record<string, unknown>);
        } catch (e) {
          if (e instanceof CommandParamError) throw new PolicySpecError(`actions[${i}].actions[${j}].params.${e.message}`);
          throw e;
        }
        return { type: xr.type as LocalActionType, ...(xr.params ? { params: xr.params as Record<string, unknown> } : {}) };
      }),
    };
  });
  return { rules, includeIocs, actions };
}
