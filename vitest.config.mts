import { defineConfig } from "vitest/config";
import swc from "unplugin-swc";
import { fileURLToPath } from "node:url";

const r = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  // NestJS DI reads decorator metadata; esbuild (vitest's default transform) does not emit it.
  plugins: [
    swc.vite({
      module: { type: "es6" },
      jsc: { target: "es2022", parser: { syntax: "typescript", decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false } },
    }),
  ],
  resolve: {
    alias: {
      "@vigil/proto": r("./proto/src/index.ts"),
      "@vigil/detection": r("./detection/src/index.ts"),
    },
  },
  test: {
    include: ["{proto,detection,agent,controller,scripts}/{src,test}/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
  },
});
