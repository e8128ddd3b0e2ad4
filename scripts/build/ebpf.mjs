// Builds dist/vigil-ebpf, the agent's kernel sensor helper (agent/native/ebpf), from source:
// vmlinux.h from this machine's BTF, the CO-RE object with clang, its libbpf skeleton with bpftool,
// and a static, stripped loader with the C compiler (so it runs on hosts without libbpf).
// Without clang/bpftool/libbpf it skips with the reason (the agent then falls back to /proc
// polling); under CI a missing toolchain is an error, since the kernel sensor tests need it.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const src = join(root, "agent/native/ebpf");
const dist = join(root, "dist");
const work = join(dist, "ebpf-build");
const out = join(dist, "vigil-ebpf");

function have(cmd) {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const missing = [];
if (!have("clang")) missing.push("clang");
if (!have("bpftool")) missing.push("bpftool");
if (!have("cc")) missing.push("cc");
if (!existsSync("/usr/include/bpf/libbpf.h")) missing.push("libbpf-dev");
if (!existsSync("/sys/kernel/btf/vmlinux")) missing.push("kernel BTF (/sys/kernel/btf/vmlinux)");
if (missing.length > 0) {
  const msg = `ebpf: not built (missing ${missing.join(", ")}); agents built here fall back to /proc polling`;
  if (process.env.CI) {
    console.error(msg);
    process.exit(1);
  }
  console.log(msg);
  process.exit(0);
}

mkdirSync(work, { recursive: true });
const sources = readdirSync(src)
  .filter((f) => /\.(c|h)$/.test(f))
  .sort();
const stamp = createHash("sha256");
for (const f of sources) stamp.update(f).update(readFileSync(join(src, f)));
const digest = stamp.digest("hex");
const stampFile = join(work, "sources.sha256");
if (existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === digest) {
  console.log("ebpf: dist/vigil-ebpf up to date");
  process.exit(0);
}

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "inherit"], maxBuffer: 256 << 20, ...opts });
writeFileSync(join(work, "vmlinux.h"), run("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"]));
const arch = { x64: "x86", arm64: "arm64" }[process.arch] ?? process.arch;
run("clang", ["-O2", "-g", "-Wall", "-target", "bpf", `-D__TARGET_ARCH_${arch}`, "-I", work, "-c", join(src, "vigil.bpf.c"), "-o", join(work, "vigil.bpf.o")]);
writeFileSync(join(work, "vigil.skel.h"), run("bpftool", ["gen", "skeleton", join(work, "vigil.bpf.o"), "name", "vigil"]));
const tmp = `${out}.tmp`;
run("cc", ["-O2", "-Wall", "-Wextra", "-s", "-static", "-I", work, "-I", src, "-o", tmp, join(src, "vigil-ebpf.c"), "-lbpf", "-lelf", "-lz"], { stdio: ["ignore", "pipe", "pipe"] });
renameSync(tmp, out);
writeFileSync(stampFile, digest);
const sha = createHash("sha256").update(readFileSync(out)).digest("hex");
console.log(`ebpf: dist/vigil-ebpf (${(readFileSync(out).length / 1024).toFixed(0)} KiB, sha256 ${sha.slice(0, 12)}…)`);
