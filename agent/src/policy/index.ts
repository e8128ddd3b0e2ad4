export { LOCAL_ACTION_TYPES, type LocalActionType, type LocalPolicyDocument, type PolicyAction, PolicyFormatError, parsePolicyDocument } from "./policy-document";
export { PolicyStore, type PolicyDecision } from "./policy-store";
export { DEFAULT_EVENT_BUDGET_MS, LocalEvaluator, type CompiledPolicy, type RuleHit, type SlowEvaluation } from "./local-evaluator";
export { ActionPlanner, type PlannedAction } from "./action-planner";
