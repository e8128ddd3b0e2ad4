import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error: plain .mjs build scripts, no types
import { OUTPUTS, staleReason, writeStamp } from "../build/freshness.mjs";
// @ts-expect-error: plain .mjs build scripts, no types
import { POSTJECT_CHATTER, unexpectedLines } from "../build/quiet-tool.mjs";

describe("npm start builds only when the sources changed", () => {
  let root = "";
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const put = (rel: string, text = "x") => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };

  it("fresh after a build; stale when a source changes or an output is missing; tests and outputs do not count", () => {
    root = mkdtempSync(join(tmpdir(), "vigil-fresh-"));
    put("package.json", "{}");
    put("agent/src/main.ts", "export {};");
    put("controller/src/main.ts", "export {};");
    put("controller/console/src/app.tsx", "export {};");
    for (const o of OUTPUTS as string[]) put(o);
    expect(staleReason(root)).toBe("no record of the last build");
    writeStamp(root);
    expect(staleReason(root)).toBe("");
    // Tests, build output and tsbuildinfo are not sources.
    put("agent/test/x.test.ts", "it()");
    put("controller/dist/extra.js");
    put("agent/tsconfig.tsbuildinfo", "{}");
    expect(staleReason(root)).toBe("");
    // A source edit (same size, later mtime) is a change.
    const f = join(root, "agent/src/main.ts");
    writeFileSync(f, "export {}");
    utimesSync(f, new Date(), new Date(Date.now() + 5000));
    expect(staleReason(root)).toBe("sources changed since the last build");
    writeStamp(root);
    expect(staleReason(root)).toBe("");
    rmSync(join(root, "dist/vigil-agent.cjs"));
    expect(staleReason(root)).toBe("dist/vigil-agent.cjs is missing");
  });
});

describe("postject's output during the SEA build", () => {
  it("drops the known LIEF note warnings and progress, keeps anything else", () => {
    const real = [
      "\x1b[36mStart injection of NODE_SEA_BLOB in /x/dist/vigil-agent...\x1b[0m",
      ...Array.from({ length: 8 }, () => "warning: Can't find string offset for section name '.note.100'"),
      "warning: Can't find string offset for section name '.note'",
      "\x1b[32m💉 Injection done!\x1b[0m",
      "",
    ].join("\n");
    expect(unexpectedLines(real, POSTJECT_CHATTER)).toEqual([]);
    const withError = real + "warning: Can't find string offset for section name '.text'\nError: Can't read and write to target executable\n";
    expect(unexpectedLines(withError, POSTJECT_CHATTER)).toEqual(["warning: Can't find string offset for section name '.text'", "Error: Can't read and write to target executable"]);
  });
});
