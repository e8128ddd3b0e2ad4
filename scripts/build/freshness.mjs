// Is the build up to date with the sources? `npm start` asks before building again, so a start
// right after `npm install` (which builds, via prepare) does not build a second time.
//   node scripts/build/freshness.mjs --write   record the sources the build just used
//   node scripts/build/freshness.mjs --ensure  build (npm run build) only when something changed
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** What the build reads. Generated output (dist, node_modules, *.tsbuildinfo) is not a source. */
export const SOURCE_ROOTS = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.base.json", "proto", "detection", "agent", "controller", "scripts/build"];
/** What the build must have produced for a start to work. */
export const OUTPUTS = ["dist/vigil-agent.cjs", "dist/vigil-agent-payload.cjs", "dist/console/index.html", "controller/dist/main.js"];
const SKIP = new Set(["node_modules", "dist", "test", "coverage", ".git"]);
export const STAMP = "dist/.build-sources";

/** A digest of every source file's path, size and modification time (cheap: no file is read). */
export function sourceFingerprint(root) {
  const rows = [];
  const walk = (p) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return; // an optional root (tsconfig.base.json) that this checkout does not have
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) if (!SKIP.has(name) && !name.endsWith(".tsbuildinfo")) walk(join(p, name));
    } else if (st.isFile()) rows.push(`${relative(root, p)}\t${st.size}\t${Math.trunc(st.mtimeMs)}`);
  };
  for (const r of SOURCE_ROOTS) walk(join(root, r));
  return createHash("sha256").update(rows.join("\n")).digest("hex");
}

export function writeStamp(root) {
  mkdirSync(join(root, "dist"), { recursive: true });
  writeFileSync(join(root, STAMP), sourceFingerprint(root) + "\n");
}

/** "" when fresh, else why a build is needed. */
export function staleReason(root) {
  const missing = OUTPUTS.find((o) => !existsSync(join(root, o)));
  if (missing) return `${missing} is missing`;
  if (!existsSync(join(root, STAMP))) return "no record of the last build";
  return readFileSync(join(root, STAMP), "utf8").trim() === sourceFingerprint(root) ? "" : "sources changed since the last build";
}

const here = fileURLToPath(import.meta.url);
if (process.argv[1] === here) {
  const root = join(dirname(here), "..", "..");
  if (process.argv[2] === "--write") {
    writeStamp(root);
  } else if (process.argv[2] === "--ensure") {
    const why = staleReason(root);
    if (!why) {
      console.log("[start] build is up to date");
    } else {
      console.log(`[start] building: ${why}`);
      const r = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
      if (r.status !== 0) process.exit(r.status ?? 1);
    }
  } else {
    console.error("usage: freshness.mjs --write | --ensure");
    process.exit(2);
  }
}
