import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { Worker, type WorkerOptions } from "node:worker_threads";

/**
 * Starts a worker script that sits beside this file. Built (dist/*.js) it is loaded directly.
 * Run from TypeScript sources (tests, tsx) the worker gets tsx's loader and resolves
 * @vigil/detection to its sources too, so main thread and worker run the same code.
 */
export function startWorker(name: string, options: WorkerOptions): Worker {
  const js = join(__dirname, `${name}.js`);
  if (!__filename.endsWith(".ts") && existsSync(js)) return new Worker(js, options);
  const ts = join(__dirname, `${name}.ts`);
  const detectionSrc = resolve(__dirname, "..", "..", "..", "detection", "src", "index.ts");
  const tsx = require.resolve("tsx/cjs/api", { paths: [__dirname] });
  const boot = `
const Module = require("node:module");
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, request === "@vigil/detection" ? ${JSON.stringify(detectionSrc)} : request, ...rest);
};
require(${JSON.stringify(tsx)}).register();
require(${JSON.stringify(ts)});
`;
  return new Worker(boot, { ...options, eval: true });
}
