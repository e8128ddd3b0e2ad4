/** The built-in rule pack (detection/rules/*.yml, embedded at build time so bundles carry it). */
import { BUILTIN_RULES } from "./builtin-rules";
import { compileRules, type CompileOptions } from "./compile";

/** Compiles the built-in pack plus any extra sources (e.g. user rules) into one RuleSet. */
export function compileBuiltinRules(extra: { name: string; text: string }[] = [], opts: CompileOptions = {}): ReturnType<typeof compileRules> {
  return compileRules([...BUILTIN_RULES, ...extra], opts);
}
