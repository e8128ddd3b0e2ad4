import { setFlagsFromString } from "node:v8";

/**
 * Keeps V8's young generation at its initial size (1 MiB per semi-space) instead of letting it
 * grow to 16 MiB per semi-space after the start-up burst and keep it: the agent's steady
 * allocation is small, so this costs a few more (sub-millisecond) scavenges and saves ~14 MB of
 * idle memory (docs/benchmarks.md, bench:sensor). Set at run time, first thing, because a SEA
 * binary takes no V8 command-line flags and NODE_OPTIONS would make V8 reject the binary's code
 * cache; the growth factor is read at each resize, so setting it now takes effect.
 *
 * The optimizing tiers stay on. Turning them off (--no-opt --no-maglev) was measured: ~11 MB less
 * idle RSS, but ~30% more agent CPU per exec event handled. An agent is judged by what it costs
 * during an exec storm (a build, an attack) more than by a dozen idle megabytes, so CPU wins.
 */
setFlagsFromString("--semi-space-growth-factor=1");
