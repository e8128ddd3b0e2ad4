/** Public API of the Sigma engine (re-exported by @vigil/detection). */
export type { Level, LogSource, SigmaEvent, RuleInfo, RuleError, Match, MatchedRule, CorrelationType } from "./types";
export { formatRuleError } from "./types";
export { compileRules, CompileCache, RuleSet, type CompileOptions } from "./compile";
export { Glob, parseWildcard, type GlobPart, type StepMeter } from "./glob";
export { MAX_REGEX_LENGTH } from "./regex";
export { DetectionEngine, type EngineOptions, type EngineStats, type RoutedMatch } from "./engine";
export { chainRuleSet, correlationRoutes, routeKey, type CorrelationRoute } from "./correlation-routes";
export { toSigmaEvent, type MappingContext } from "./field-mapping";
export { validateRuleDir, testRules, loadRuleSources, parseEventLine, type ValidateResult, type TestResult, type TestMatch } from "./rule-tools";
export { BUILTIN_RULES } from "./builtin-rules";
export { compileBuiltinRules } from "./builtin";
