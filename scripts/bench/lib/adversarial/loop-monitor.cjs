// Preloaded into the controller under attack (NODE_OPTIONS=--require): every
// 50 ms it appends "<epoch ms> <longest event-loop delay since the last line,
// ms>" to VIGIL_BENCH_LOOP_FILE. It only observes; a block longer than 50 ms
// shows as one late line carrying the whole block.
"use strict";
const { monitorEventLoopDelay } = require("node:perf_hooks");
const { appendFileSync } = require("node:fs");
const { isMainThread } = require("node:worker_threads");
const file = process.env.VIGIL_BENCH_LOOP_FILE;
// The main thread only: it serves the API and ingest; workers (detection) may be busy by design.
if (file && isMainThread) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const t = setInterval(() => {
    appendFileSync(file, `${Date.now()} ${(h.max / 1e6).toFixed(1)}\n`);
    h.reset();
  }, 50);
  t.unref();
}
