// Builds dist/vigil-agent: a Node Single Executable Application (what `pkg --sea` does),
// from the esbuild bundle, so the agent runs on hosts without Node or node_modules.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dist = join(root, "dist");
const bundle = join(dist, "vigil-agent.cjs");
if (!existsSync(bundle)) throw new Error("dist/vigil-agent.cjs missing: run `npm run bundle:agent` first");
const blob = join(dist, "vigil-agent.blob");
const config = join(dist, "sea-config.json");
writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, useSnapshot: false }));
execFileSync(process.execPath, ["--experimental-sea-config", config], { stdio: "inherit" });
const out = join(dist, "vigil-agent");
rmSync(out, { force: true });
copyFileSync(process.execPath, out);
chmodSync(out, 0o755);
execFileSync(join(root, "node_modules/.bin/postject"), [out, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"], { stdio: "inherit" });
rmSync(blob);
rmSync(config);
const v = execFileSync(out, ["version"], { encoding: "utf8" }).trim();
console.log(`sea: dist/vigil-agent (version ${v})`);
