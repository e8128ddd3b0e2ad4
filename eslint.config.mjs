// ESLint over every workspace's src, tests and scripts (npm run lint). Type-aware: the rules that
// matter most here (floating and misused promises) need the type checker, so TypeScript files are
// parsed with the program of tsconfig.test.json (src, tests and scripts as one program), of the
// console tests (controller/test/console, with DOM types) or of the browser console
// (controller/console/tsconfig.json).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    // Generated code (ts-proto), build outputs, and the eBPF helper's C.
    ignores: ["**/dist/**", "**/node_modules/**", "proto/src/gen/**", "agent/native/**", "docs/**"],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ["./tsconfig.test.json", "./controller/test/console/tsconfig.json", "./controller/console/tsconfig.json"],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // Required by the project: an unhandled promise is a silent edge.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // disallowTypeAnnotations off: `underTest<typeof import("...")>(path)` types a module loaded at run time.
      "@typescript-eslint/consistent-type-imports": ["error", { prefer: "type-imports", fixStyle: "inline-type-imports", disallowTypeAnnotations: false }],
      // A leading underscore marks a deliberately unused binding; `const { a: _a, ...rest }` drops a key.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", ignoreRestSiblings: true }],
      // Off: the code marks indexed reads `xs[i]!` as if noUncheckedIndexedAccess were on; those marks are intent, not noise.
      "@typescript-eslint/no-unnecessary-type-assertion": "off",
      // Off: `async` without `await` is used on purpose, to meet a Promise-returning interface and turn throws into rejections.
      "@typescript-eslint/require-await": "off",
      // Off: String(x) is the deliberate, total conversion of untrusted values; the checks that follow judge the text.
      "@typescript-eslint/no-base-to-string": "off",
      // The STIX pattern parser throws a plain Refusal value to unwind and catches it in the same module (no stack needed).
      "@typescript-eslint/only-throw-error": ["error", { allow: [{ from: "file", name: "Refusal", path: "detection/src/ioc/stix-pattern.ts" }] }],
    },
  },
  {
    // Tests and benchmarks read JSON answers (typed `any` by their HTTP helpers) and check them with expect.
    files: ["*/test/**/*.ts", "scripts/**/*.ts"],
    rules: {
      // Off in tests: an API answer is read as `any` and its shape is what the assertions check.
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  {
    // Plain JavaScript (build scripts, bin shims): not in a TypeScript program, so no type-aware rules.
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  {
    // CommonJS files (no "type": "module" in the packages): require is how they import.
    files: ["**/*.js", "**/*.cjs"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
