/** Public API of the Sigma engine (re-exported by @vigil/detection). */
export type { Level, LogSource, SigmaEvent, RuleInfo, RuleError, Match, MatchedRule, CorrelationType } from "./types";
export { formatRuleError } from "./types";
export { compileRules, RuleSet, type CompileOptions } from "./compile";
export { DetectionEngine, type EngineOptions, type EngineStats } from "./engine";
export { toSigmaEvent, type MappingContext } from "./field-mapping";
export { validateRuleDir, testRules, loadRuleSources, parseEventLine, type ValidateResult, type TestResult, type TestMatch } from "./rule-tools";
export { BUILTIN_RULES } from "./builtin-rules";
export { compileBuiltinRules } from "./builtin";
