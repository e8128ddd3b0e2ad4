// Bundles the analyst web console (controller/console) into dist/console/: one JS file, one CSS
// file and index.html, served by the controller at /console/. Everything is local (no CDN), so
// the console works on an air-gapped network. Importable (tests build before they run) or run
// directly (`npm run build`).
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CONSOLE_SRC = join(root, "controller/console");
export const CONSOLE_OUT = join(root, "dist/console");

/** Builds the console; returns the output directory. */
export async function buildConsole({ minify = true, quiet = false } = {}) {
  await mkdir(CONSOLE_OUT, { recursive: true });
  const result = await build({
    entryPoints: { app: join(CONSOLE_SRC, "src/main.tsx") },
    outdir: CONSOLE_OUT,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: ["chrome111", "firefox115", "safari16"],
    jsx: "automatic",
    jsxImportSource: "preact",
    minify,
    sourcemap: "linked",
    legalComments: "linked",
    metafile: true,
    logLevel: "warning",
  });
  await copyFile(join(CONSOLE_SRC, "index.html"), join(CONSOLE_OUT, "index.html"));
  if (!quiet) {
    const bytes = Object.entries(result.metafile.outputs)
      .filter(([f]) => !f.endsWith(".map"))
      .reduce((n, [, o]) => n + o.bytes, 0);
    console.log(`console: dist/console (${(bytes / 1024).toFixed(0)} KiB)`);
  }
  return CONSOLE_OUT;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildConsole();
