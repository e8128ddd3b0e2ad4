// Regenerates proto/src/gen from proto/vigil/v1/*.proto with buf + ts-proto (offline).
// `--check` generates into a temp dir and fails if the committed code differs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, cpSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const protoDir = join(root, "proto");
const buf = join(root, "node_modules", ".bin", "buf");
const check = process.argv.includes("--check");

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

execFileSync(buf, ["lint"], { cwd: protoDir, stdio: "inherit" });
const out = mkdtempSync(join(tmpdir(), "vigil-proto-"));
try {
  const template = readFileSync(join(protoDir, "buf.gen.yaml"), "utf8")
    .replace("../node_modules/.bin/protoc-gen-ts_proto", join(root, "node_modules", ".bin", "protoc-gen-ts_proto"))
    .replace("out: src/gen", `out: ${out}`);
  const tpl = join(out, "buf.gen.tmp.yaml");
  writeFileSync(tpl, template);
  execFileSync(buf, ["generate", "--template", tpl], { cwd: protoDir, stdio: "inherit" });
  rmSync(tpl);
  const target = join(protoDir, "src", "gen");
  const fresh = walk(out)
    .map((f) => relative(out, f))
    .sort();
  const committed = walk(target)
    .map((f) => relative(target, f))
    .sort();
  if (check) {
    const stale = fresh.filter((f) => !committed.includes(f) || readFileSync(join(out, f), "utf8") !== readFileSync(join(target, f), "utf8"));
    const extra = committed.filter((f) => !fresh.includes(f));
    if (stale.length || extra.length) {
      console.error(`proto: generated code is stale: ${[...stale, ...extra].join(", ")}; run \`npm run proto\``);
      process.exit(1);
    }
    console.log("proto: generated code is up to date");
  } else {
    rmSync(target, { recursive: true, force: true });
    cpSync(out, target, { recursive: true });
    console.log(`proto: generated ${fresh.length} files into proto/src/gen`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
