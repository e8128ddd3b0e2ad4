import { setFlagsFromString } from "node:v8";

/**
 * V8 settings for a small, long-lived agent. Set at run time, first thing, because a SEA binary
 * takes no V8 command-line flags and NODE_OPTIONS would make V8 reject the binary's code cache;
 * both flags below are read by V8 each time it decides (a young-generation resize, a function's
 * next tier), so setting them now takes effect for everything the agent runs.
 *
 * - The young generation stays at its initial size (1 MiB per semi-space) instead of growing to
 *   16 MiB per semi-space after the start-up burst and keeping it: the agent's steady allocation
 *   is small, so this costs a few more (sub-millisecond) scavenges and saves ~14 MB at idle.
 * - No optimizing tiers (TurboFan, Maglev): functions run in the interpreter and, once warm, as
 *   Sparkplug baseline code. What the optimizer costs is memory the agent keeps for its whole
 *   life: the compiler's own machine code paged in from the binary (~4 MB), its compile zones on
 *   V8's worker threads, left in their malloc arenas (~7 MB), and the optimized code. It saves
 *   ~11 MB of idle RSS; the agent's CPU per exec event, measured by bench:sensor on the same
 *   host, is in docs/benchmarks.md.
 */
setFlagsFromString("--semi-space-growth-factor=1");
setFlagsFromString("--no-opt");
setFlagsFromString("--no-maglev");
