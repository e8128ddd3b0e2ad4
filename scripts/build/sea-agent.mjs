// Builds dist/vigil-agent: a Node Single Executable Application (what `pkg --sea` does),
// from the esbuild bundle, so the agent runs on hosts without Node or node_modules.
import { execFileSync } from "node:child_process";
import { appendFileSync, chmodSync, copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { POSTJECT_CHATTER, runQuiet } from "./quiet-tool.mjs";

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
// postject's harmless LIEF warnings (one per ELF note) are dropped; anything else it says is shown.
runQuiet(join(root, "node_modules/.bin/postject"), [out, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"], POSTJECT_CHATTER);
rmSync(blob);
rmSync(config);
// After the SEA image, sections Node never reads (agent/src/platform/payload/tail-section.ts reads them back),
// each [bytes][sha256 hex][u64 LE length][magic]: the payload (agent/src/platform/payload/payload.ts), then
// the eBPF helper last (agent/src/sensors/ebpf/helper-binary.ts).
function appendSection(file, magic) {
  const bytes = readFileSync(file);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(bytes.length));
  appendFileSync(out, Buffer.concat([bytes, Buffer.from(createHash("sha256").update(bytes).digest("hex"), "latin1"), len, Buffer.from(magic, "latin1")]));
  return bytes.length;
}
const payload = join(dist, "vigil-agent-payload.cjs");
if (!existsSync(payload)) throw new Error("dist/vigil-agent-payload.cjs missing: run `npm run bundle:agent` first");
console.log(`sea: appended the payload (${(appendSection(payload, "VGLPAYL1") / 1024).toFixed(0)} KiB)`);
const helper = join(dist, "vigil-ebpf");
if (existsSync(helper)) console.log(`sea: embedded the eBPF helper (${(appendSection(helper, "VGLEBPF1") / 1024).toFixed(0)} KiB)`);
else console.log("sea: no dist/vigil-ebpf to embed: this agent uses /proc polling only");
const v = execFileSync(out, ["version"], { encoding: "utf8" }).trim();
console.log(`sea: dist/vigil-agent (version ${v})`);
