// Bundles the agent into one CommonJS file (dist/vigil-agent.cjs): no node_modules needed at run time.
// What only short-lived parts of it use goes into a second file, the payload
// (dist/vigil-agent-payload.cjs, agent/src/platform/payload/payload.ts says why), loaded when first needed.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Packages in the payload, each with the payload's export that loads it (agent/src/platform/payload/payload.ts). */
const PAYLOAD = { systeminformation: "systeminformation", "reflect-metadata": "reflectMetadata", "@peculiar/x509": "x509" };
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  sourcemap: false,
  minify: false,
  minifyWhitespace: true,
  legalComments: "none",
  metafile: true,
  // macOS-only optional helpers that systeminformation requires lazily; never present on Linux.
  external: ["osx-temperature-sensor"],
  logLevel: "warning",
};

// V8 keeps a whole script as one string on the heap, two bytes per character if a single one is
// outside Latin-1 (a "→" in a comment is enough): escape those, so it is one byte.
function toLatin1(file) {
  const text = readFileSync(file, "utf8");
  // eslint-disable-next-line no-control-regex -- the Latin-1 range starts at NUL
  const latin1 = text.replace(/[^\u0000-\u00ff]/gu, (c) =>
    c
      .split("")
      .map((u) => `\\u${u.charCodeAt(0).toString(16).padStart(4, "0")}`)
      .join(""),
  );
  if (latin1 !== text) writeFileSync(file, latin1);
  return readFileSync(file);
}
const kib = (result) => (Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0) / 1024).toFixed(0);

// Each package is required lazily, on the first call of its export.
const payloadOut = join(root, "dist/vigil-agent-payload.cjs");
const payload = await build({
  ...common,
  stdin: {
    contents: Object.entries(PAYLOAD)
      .map(([pkg, name]) => `exports.${name} = () => require(${JSON.stringify(pkg)});`)
      .join("\n"),
    resolveDir: root,
    loader: "js",
  },
  outfile: payloadOut,
});
const payloadSha = createHash("sha256").update(toLatin1(payloadOut)).digest("hex");

// In the agent's bundle, those packages are the payload's exports.
const fromPayload = {
  name: "payload",
  setup(b) {
    const filter = new RegExp(
      `^(${Object.keys(PAYLOAD)
        .map((p) => p.replace(/[/.@-]/g, "\\$&"))
        .join("|")})$`,
    );
    b.onResolve({ filter }, (a) => ({ path: a.path, namespace: "payload" }));
    b.onLoad({ filter: /.*/, namespace: "payload" }, (a) => ({
      contents: `module.exports = require(${JSON.stringify(join(root, "agent/src/platform/payload/payload.ts"))}).loadPayload().${PAYLOAD[a.path]}();`,
      resolveDir: root,
      loader: "js",
    }));
  },
};
// grpc-js requires @grpc/proto-loader (with protobufjs, ~180 KiB) only to serve its channelz and ORCA
// services, which an agent never does: not bundled, and a clear error should that ever change.
const noProtoLoader = {
  name: "no-proto-loader",
  setup(b) {
    b.onResolve({ filter: /^@grpc\/proto-loader$/ }, (a) => ({ path: a.path, namespace: "absent" }));
    b.onLoad({ filter: /.*/, namespace: "absent" }, (a) => ({
      contents: `throw new Error(${JSON.stringify(`${a.path} is not bundled in the agent (scripts/build/bundle-agent.mjs)`)});`,
      loader: "js",
    }));
  },
};
const out = join(root, "dist/vigil-agent.cjs");
const result = await build({
  ...common,
  entryPoints: [join(root, "agent/src/entry.ts")],
  outfile: out,
  alias: {
    "@vigil/proto": join(root, "proto/src/index.ts"),
    "@vigil/detection": join(root, "detection/src/index.ts"),
  },
  define: { VIGIL_PAYLOAD_SHA256: JSON.stringify(payloadSha) },
  plugins: [fromPayload, noProtoLoader],
});
toLatin1(out);
console.log(`bundle: dist/vigil-agent.cjs (${kib(result)} KiB), payload dist/vigil-agent-payload.cjs (${kib(payload)} KiB, sha256 ${payloadSha.slice(0, 12)}…)`);
