/**
 * `rules update`: a SigmaHQ release archive → a new pack version in the data dir. Every rule is
 * compiled by the engine first; refused files are listed (and kept in the manifest), the rest is
 * written to a fresh folder that then replaces the old pack in one rename, so a controller
 * starting meanwhile sees either the old pack or the new one, never half of each.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { compileRules, formatRuleError } from "@vigil/detection";
import { readLinuxRules } from "./archive";
import { PACK_DIR_NAME, PACK_SOURCE_PREFIX } from "./pack";
import type { PackManifest, PackRefusal } from "./pack-types";

export interface PackUpdateResult {
  dir: string;
  manifest: PackManifest;
}

export class PackUpdateError extends Error {}

export async function updatePackFromArchive(archive: string, dataDir: string, now: Date = new Date()): Promise<PackUpdateResult> {
  const scan = await readLinuxRules(archive);
  if (scan.files.length === 0) throw new PackUpdateError(`${archive}: no rules/linux/**.yml in the archive (${scan.entries} entries); pack left unchanged`);
  const sources = scan.files.map((f) => ({ name: PACK_SOURCE_PREFIX + f.path, text: f.text }));
  const { ruleset, errors } = compileRules(sources);
  const bad = new Map<string, string[]>();
  for (const e of errors) {
    const path = e.source.slice(PACK_SOURCE_PREFIX.length);
    bad.set(path, [...(bad.get(path) ?? []), formatRuleError({ ...e, source: path })]);
  }
  // A file with any refused document is left out whole, as an upload would be.
  const refused: PackRefusal[] = [...scan.refused, ...[...bad].map(([path, why]) => ({ path, reason: why.join("; ") }))];
  const kept = scan.files.filter((f) => !bad.has(f.path));
  if (kept.length === 0) throw new PackUpdateError(`${archive}: the engine refused every rule (${refused.length}); pack left unchanged`);
  const ruleCount = ruleset.rules.filter((r) => kept.some((k) => PACK_SOURCE_PREFIX + k.path === r.source)).length;

  const manifest: PackManifest = {
    pack: "sigmahq-linux",
    version: basename(archive).replace(/\.(zip|tar\.gz|tgz)$/i, ""),
    date: now.toISOString(),
    count: kept.length,
    compiled: ruleCount,
    refused,
    source: { archive: basename(archive), sha256: await sha256File(archive), license: "DRL-1.1", licenseUrl: "https://github.com/SigmaHQ/Detection-Rule-License" },
    files: kept.map((f) => ({ path: f.path, sha256: createHash("sha256").update(f.text).digest("hex") })),
  };

  const dir = join(dataDir, PACK_DIR_NAME);
  const tmp = `${dir}.new-${process.pid}`;
  const old = `${dir}.old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "rules"), { recursive: true, mode: 0o700 });
  for (const f of kept) {
    const target = join(tmp, "rules", f.path);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    writeFileSync(target, f.text, { mode: 0o600, flag: "wx" });
  }
  writeFileSync(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600 });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
  return { dir, manifest };
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (d) => h.update(d))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}
