import { randomUUID } from "node:crypto";
import { CertifiedClient, enrollIdentity, processEvent } from "./agents";
import { enrollmentToken, until } from "./controller";
import { HEALTHZ_P99_MS, ms, type Ctx, type Outcome } from "./context";
import { json } from "./http";
import { max, p99 } from "./prober";

/**
 * Class 1: host-controlled strings against the matcher. Every part runs while
 * healthz is probed; a matcher that backtracks on the thread serving the API
 * shows up as healthz latency, whatever the fix looks like (refusal at upload,
 * linear engine, off-thread with a budget).
 */
export async function regexFlood(x: Ctx): Promise<Outcome[]> {
  const { c } = x;
  const id = await enrollIdentity(c, await enrollmentToken(c));
  const s = new CertifiedClient(c.grpcPort, c.caPem, id);
  s.hello(id.agentId);
  await until(() => s.welcomed() || s.error, 10_000);
  let seq = 1;
  const out: Outcome[] = [];

  // Sends events and probes healthz until they are stored and detection has drained.
  let block = 0;
  const flood = async (events: ReturnType<typeof processEvent>[]): Promise<number[]> => {
    x.probe.start();
    const from = Date.now();
    const first = seq;
    s.events(first, events);
    seq += events.length;
    await until(() => s.lastAck() >= seq - 1 || s.error, 90_000);
    await drained(x, 90_000);
    // At least 3 s of probes, so the p99 rests on ~150 samples even when the flood is over quickly.
    await new Promise((r) => setTimeout(r, Math.max(0, from + 3000 - Date.now())));
    const lat = await x.probe.stop();
    block = c.loopBlock(from, Date.now()).ms;
    x.underAttack.push(...lat);
    return lat;
  };

  // 1a: a built-in rule's `|re` (tar archive flags) on a 32 KiB command line a user controls.
  const hostile = "tar " + "c".repeat(32 * 1024 - 4);
  const lat1 = await flood(Array.from({ length: 20 }, () => processEvent("/usr/bin/tar", hostile)));
  out.push({
    id: "1a",
    attack: "20 events, 32 KiB command line vs built-in `|re` (tar)",
    held: p99(lat1) < HEALTHZ_P99_MS && !s.error,
    measured: `healthz p99 ${ms(p99(lat1))}, max ${ms(max(lat1))}; longest event-loop block ${ms(block)}`,
  });

  // 1b: an uploaded catastrophic pattern. Held: refused at upload, or matched without stalling.
  const reId = randomUUID();
  const up = await c.api("POST", "/api/v1/rules", {
    key: c.keys.admin,
    ...json({
      name: "adv-redos.yml",
      yaml: [
        "title: adversarial redos",
        `id: ${reId}`,
        "logsource: { product: linux, category: process_creation }",
        "detection:",
        "  sel:",
        "    CommandLine|re: '^(a+)+$'",
        "  condition: sel",
        "level: low",
      ].join("\n"),
    }),
  });
  if (up.status >= 400) out.push({ id: "1b", attack: "upload `|re: '^(a+)+$'`", held: up.status < 500, measured: `refused at upload (${up.status})` });
  else {
    const lat = await flood(Array.from({ length: 4 }, () => processEvent("/usr/bin/adv-redos", "a".repeat(26) + "!")));
    out.push({
      id: "1b",
      attack: "upload `|re: '^(a+)+$'`, 4 events `a`×26+`!`",
      held: p99(lat) < HEALTHZ_P99_MS,
      measured: `accepted; healthz p99 ${ms(p99(lat))}, max ${ms(max(lat))}; longest event-loop block ${ms(block)}`,
    });
  }

  // 1c: a suppression whose wildcards backtrack, evaluated on an alert whose field is 40 × "a".
  const markId = randomUUID();
  await c.api("POST", "/api/v1/rules", {
    key: c.keys.admin,
    ...json({
      name: "adv-supp.yml",
      yaml: [
        "title: adversarial suppression marker",
        `id: ${markId}`,
        "logsource: { product: linux, category: process_creation }",
        "detection:",
        "  sel:",
        "    Image|endswith: '/adv-supp-marker'",
        "  condition: sel",
        "level: high",
      ].join("\n"),
    }),
  });
  const sup = await c.api("POST", "/api/v1/suppressions", { key: c.keys.admin, ...json({ reason: "adversarial bench", fields: { CommandLine: "*a".repeat(8) + "*b" } }) });
  if (sup.status >= 400) out.push({ id: "1c", attack: "suppression `*a*a*a*a*a*a*a*a*b`", held: sup.status < 500, measured: `refused at creation (${sup.status})` });
  else {
    const lat = await flood([processEvent("/usr/bin/adv-supp-marker", "a".repeat(40))]);
    out.push({
      id: "1c",
      attack: "suppression `*a*a*a*a*a*a*a*a*b` vs 40 × `a`",
      held: p99(lat) < HEALTHZ_P99_MS,
      measured: `accepted; healthz p99 ${ms(p99(lat))}, max ${ms(max(lat))}; longest event-loop block ${ms(block)}`,
    });
  }
  s.close();
  return out;
}

/**
 * Waits until the detection pipeline reports an empty queue. Assumption: the
 * stats route keeps a queue figure (`queuedEvents` today); if the merged code
 * names it otherwise, any numeric field named like queued* / pending* counts.
 */
export async function drained(x: Ctx, timeoutMs: number): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  await until(
    async () => {
      const r = await x.c.api("GET", "/api/v1/rules/stats", { key: x.c.keys.admin });
      const st = (r.json ?? {}) as Record<string, unknown>;
      const queued = Object.entries(st)
        .filter(([k, v]) => /^(queued|pending)/i.test(k) && typeof v === "number")
        .map(([, v]) => v as number);
      return r.status === 200 && queued.every((v) => v === 0);
    },
    timeoutMs,
    200,
  );
}
