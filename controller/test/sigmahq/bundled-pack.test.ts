import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileRules } from "@vigil/detection";
// @ts-expect-error plain .mjs build script without type declarations
import { renderSigmahqPack, PACK_OUT_FILE, PACK_DIR } from "../../../scripts/build/embed-rules.mjs";
import { SIGMAHQ_BUNDLED_PACK } from "../../src/sigmahq/bundled-pack";
import { packSources } from "../../src/sigmahq/pack";

describe("the bundled SigmaHQ pack (detection/rules/sigmahq-linux)", () => {
  const pack = SIGMAHQ_BUNDLED_PACK;

  it("controller/src/sigmahq/bundled-pack.ts is current with the folder", () => {
    expect(readFileSync(PACK_OUT_FILE, "utf8")).toBe(renderSigmahqPack());
  });

  it("the manifest lists every rule file with its checksum, provenance and count", () => {
    const listed = new Map((pack.manifest.files as { path: string; sha256: string; commit: string | null; via?: string }[]).map((f) => [f.path, f]));
    expect(pack.manifest.count).toBe(pack.rules.length);
    expect([...listed.keys()].sort()).toEqual(pack.rules.map((r) => r.name).sort());
    for (const r of pack.rules) {
      const f = listed.get(r.name)!;
      expect(f.sha256, r.name).toBe(createHash("sha256").update(r.text).digest("hex"));
      expect(f.commit !== null || typeof f.via === "string", r.name).toBe(true);
    }
  });

  it("every rule compiles, as the manifest says, and keeps its author (Detection Rule License attribution)", () => {
    const { ruleset, errors } = compileRules(packSources({ ...pack, origin: "bundled" }));
    expect(errors).toEqual([]);
    expect(pack.manifest.refused).toEqual([]);
    expect(ruleset.rules.length).toBe(pack.manifest.compiled);
    for (const r of pack.rules) expect(r.text, r.name).toMatch(/^author: \S/m);
    const license = readFileSync(join(PACK_DIR, "LICENSE.md"), "utf8");
    expect(license).toContain("Detection Rule License (DRL) 1.1");
    expect(license).toContain("https://github.com/SigmaHQ/Detection-Rule-License");
  });

  it("every override names a rule of the pack and says why", () => {
    const ids = new Set(compileRules(packSources({ ...pack, origin: "bundled" })).ruleset.rules.map((r) => r.id));
    for (const [id, reason] of Object.entries(pack.overrides.disabled ?? {})) {
      expect(ids.has(id), id).toBe(true);
      expect(reason.length).toBeGreaterThan(20);
    }
    for (const [id, o] of Object.entries(pack.overrides.levels ?? {})) {
      expect(ids.has(id), id).toBe(true);
      expect(o.reason.length).toBeGreaterThan(20);
    }
  });
});
