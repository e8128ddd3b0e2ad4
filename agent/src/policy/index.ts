export { LOCAL_ACTION_TYPES, type LocalActionType, type LocalPolicyDocument, type PolicyAction, PolicyFormatError, parsePolicyDocument } from "./policy-document";
export { PolicyStore, type PolicyDecision } from "./policy-store";
export { LocalEvaluator, type CompiledPolicy, type RuleHit } from "./local-evaluator";
export { ActionPlanner, type PlannedAction } from "./action-planner";
