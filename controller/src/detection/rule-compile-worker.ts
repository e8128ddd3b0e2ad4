/**
 * The rule compiler's thread: validates and compiles uploaded Sigma files (with the built-in pack)
 * off the thread that serves the API and ingest. A 1 MiB upload compiles for about a second; here
 * that second is nobody's wait but the uploader's. Keeps a CompileCache, so each change compiles
 * only the file that changed. Answers with what the catalog shows: rule infos and refusals.
 */
import { parentPort } from "node:worker_threads";
import { BUILTIN_RULES, CompileCache, compileRules } from "@vigil/detection";
import { applyPackPolicy } from "../sigmahq/pack";
import type { CompileReply, CompileRequest } from "./rule-compiler";

if (parentPort) {
  const port = parentPort;
  const cache = new CompileCache();
  port.on("message", (m: CompileRequest) => {
    try {
      const { ruleset, errors } = compileRules([...BUILTIN_RULES, ...m.uploaded], { cache });
      applyPackPolicy(ruleset); // the catalog shows the SigmaHQ pack's rules with Vigil's overrides
      port.postMessage({ id: m.id, rules: ruleset.rules, errors, compiledDocs: cache.compiledDocs, reusedDocs: cache.reusedDocs } satisfies CompileReply);
    } catch (e) {
      port.postMessage({ id: m.id, failed: e instanceof Error ? e.message : String(e) } satisfies CompileReply);
    }
  });
}
