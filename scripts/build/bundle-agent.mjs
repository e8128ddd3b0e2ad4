// Bundles the agent into one CommonJS file (dist/vigil-agent.cjs): no node_modules needed at run time.
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
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`bundle: dist/vigil-agent.cjs (${(bytes / 1024).toFixed(0)} KiB)`);
