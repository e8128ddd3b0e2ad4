// Bundles the agent into one CommonJS file (dist/vigil-agent.cjs): no node_modules needed at run time.
import { readFileSync, writeFileSync } from "node:fs";
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const result = await build({
  entryPoints: [join(root, "agent/src/entry.ts")],
  outfile: join(root, "dist/vigil-agent.cjs"),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: false,
  minify: false,
  minifyWhitespace: true,
  legalComments: "none",
  metafile: true,
  alias: {
    "@vigil/proto": join(root, "proto/src/index.ts"),
    "@vigil/detection": join(root, "detection/src/index.ts"),
  },
  // macOS-only optional helpers that systeminformation requires lazily; never present on Linux.
  external: ["osx-temperature-sensor"],
  logLevel: "warning",
});
// V8 keeps the whole script as one string on the agent's heap, two bytes per character if a
// single one is outside Latin-1 (a "→" in a comment is enough): escape those, so it is one byte.
const out = join(root, "dist/vigil-agent.cjs");
const text = readFileSync(out, "utf8");
// eslint-disable-next-line no-control-regex -- the Latin-1 range starts at NUL
const latin1 = text.replace(/[^\u0000-\u00ff]/gu, (c) =>
  c
    .split("")
    .map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .join(""),
);
if (latin1 !== text) writeFileSync(out, latin1);
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`bundle: dist/vigil-agent.cjs (${(bytes / 1024).toFixed(0)} KiB)`);
