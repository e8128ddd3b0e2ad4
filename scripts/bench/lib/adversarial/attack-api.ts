import { randomBytes, randomUUID } from "node:crypto";
import { cpSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { cli, until, type Controller } from "./controller";
import { HEALTHZ_P99_MS, ms, type Ctx, type Outcome } from "./context";
import { json, type HttpResult } from "./http";
import { underTest } from "./under-test";
import { max, p, p99, rssBytes, rssPeak } from "./prober";

interface AuditRow {
  seq: number;
  action: string;
  target: string;
  details: unknown;
}

async function auditSince(c: Controller, afterSeq: number): Promise<AuditRow[]> {
  const r = await c.api("GET", "/api/v1/audit?limit=200", { key: c.keys.admin });
  return ((r.json?.items ?? []) as AuditRow[]).filter((a) => a.seq > afterSeq);
}

async function auditHead(c: Controller): Promise<number> {
  const r = await c.api("GET", "/api/v1/audit?limit=1", { key: c.keys.admin });
  return (r.json?.items?.[0]?.seq as number | undefined) ?? 0;
}

function ruleYaml(id: string, title: string): string {
  return [
    `title: ${title}`,
    `id: ${id}`,
    "logsource: { product: linux, category: process_creation }",
    "detection:",
    "  sel:",
    `    CommandLine|contains: ${id}`,
    "  condition: sel",
    "level: low",
  ].join("\n");
}

/**
 * Class 4: state changes through URLs in another case, percent-encoded or with
 * doubled slashes. Held: every request that was applied (2xx) left an audit
 * record naming its resource. A variant the server refuses (404, 400) was not
 * applied and needs no record.
 */
export async function auditBypass(x: Ctx): Promise<Outcome[]> {
  const { c } = x;
  const k = c.keys.admin;
  const ruleId = randomUUID();
  const supId = `adv-sup-${randomUUID().slice(0, 8)}`;
  const supId2 = `adv-sup-${randomUUID().slice(0, 8)}`;
  const variants: Array<{ name: string; resource: RegExp; send: () => Promise<HttpResult> }> = [
    { name: "POST /API/V1/RULES", resource: /rule/i, send: () => c.api("POST", "/API/V1/RULES", { key: k, ...json({ name: "adv-case.yml", yaml: ruleYaml(ruleId, "adversarial case") }) }) },
    { name: `POST /Api/V1/rules/<id>/disable`, resource: /rule/i, send: () => c.api("POST", `/Api/V1/rules/${ruleId}/disable`, { key: k }) },
    {
      name: "POST //api/v1/suppressions",
      resource: /suppression/i,
      send: () => c.api("POST", "//api/v1/suppressions", { key: k, ...json({ id: supId, reason: "bench", fields: { CommandLine: "adv-x" } }) }),
    },
    {
      name: "POST /api/v1/%73uppressions",
      resource: /suppression/i,
      send: () => c.api("POST", "/api/v1/%73uppressions", { key: k, ...json({ id: supId2, reason: "bench", fields: { CommandLine: "adv-y" } }) }),
    },
    { name: "DELETE /API/V1/SUPPRESSIONS/<id>", resource: /suppression/i, send: () => c.api("DELETE", `/API/V1/SUPPRESSIONS/${supId}`, { key: k }) },
    { name: "POST /api/V1/iocs/import", resource: /ioc/i, send: () => c.api("POST", "/api/V1/iocs/import", { key: k, body: "type,value\ndomain,adv-audit.example\n", type: "text/csv" }) },
    {
      name: "POST /api/v1/rules/ (trailing slash)",
      resource: /rule/i,
      send: () => c.api("POST", "/api/v1/rules/", { key: k, ...json({ name: "adv-slash.yml", yaml: ruleYaml(randomUUID(), "adversarial slash") }) }),
    },
  ];
  let applied = 0;
  const missed: string[] = [];
  for (const v of variants) {
    const head = await auditHead(c);
    const r = await v.send();
    if (r.status < 200 || r.status >= 300) continue;
    applied++;
    const rec = await until(async () => (await auditSince(c, head)).find((a) => v.resource.test(`${a.action} ${a.target}`)), 3_000, 100);
    if (!rec) missed.push(`${v.name} → ${r.status}`);
  }
  const out: Outcome[] = [
    {
      id: "4a",
      attack: "mutating URLs in other case / encoded / `//`",
      held: missed.length === 0,
      measured: `${applied - missed.length} of ${applied} applied changes audited${missed.length ? `; unaudited: ${missed.join(", ")}` : ""}`,
    },
  ];

  // 4b: a rule upload's record must say what changed (the rule id; a content hash).
  const upId = randomUUID();
  const head = await auditHead(c);
  const up = await c.api("POST", "/api/v1/rules", { key: k, ...json({ name: "adv-content.yml", yaml: ruleYaml(upId, "adversarial content") }) });
  const rec = await until(async () => (await auditSince(c, head)).find((a) => /rule/i.test(`${a.action} ${a.target}`)), 3_000, 100);
  const names = !!rec && JSON.stringify(rec).includes(upId);
  out.push({
    id: "4b",
    attack: "rule upload's audit record names the rule",
    held: up.status < 300 && names,
    measured: rec ? (names ? "rule id recorded" : "record WITHOUT rule id") : `no record (upload ${up.status})`,
  });
  return out;
}

/** An audit record's hash as the unkeyed chain computes it: what an attacker who can edit the database can do. */
async function rehashFrom(dbFile: string, fromSeq: number): Promise<void> {
  const chain = await underTest<{ recordHash: (...a: unknown[]) => string }>("controller/dist/audit/audit-chain.js");
  const db = new Database(dbFile);
  try {
    const rows = db.prepare("SELECT seq, time, actor, action, target, details, prev_hash AS prevHash, hash FROM audit_log WHERE seq >= ? ORDER BY seq").all(fromSeq) as Array<Record<string, any>>;
    const prev = db.prepare("SELECT hash FROM audit_log WHERE seq = ?").get(fromSeq - 1) as { hash: string } | undefined;
    let prevHash = prev?.hash ?? rows[0]!.prevHash;
    const upd = db.prepare("UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?");
    rows.forEach((r, i) => {
      const details = i === 0 ? JSON.stringify({ tampered: true }) : r.details;
      const base = { seq: Number(r.seq), time: Number(r.time), actor: r.actor, action: r.action, target: r.target, details, prevHash };
      let hash: string;
      try {
        hash = chain.recordHash(base);
      } catch {
        hash = r.hash; // a keyed chain the attacker cannot compute
      }
      upd.run(details, prevHash, hash, r.seq);
      prevHash = hash;
    });
  } finally {
    db.close();
  }
}

/**
 * Class 4 continued, on copies of the stopped controller's data dir: one
 * record edited and everything after it re-hashed; the last records deleted.
 * Held: `vigil-controller audit verify` fails on each copy.
 */
export async function auditTamper(c: Controller, tmp: string): Promise<Outcome[]> {
  const copy = (name: string) => {
    const d = mkdtempSync(join(tmp, `audit-${name}-`));
    cpSync(c.dataDir, d, { recursive: true });
    return d;
  };
  const out: Outcome[] = [];
  const clean = await cli(c.dataDir, c.dbUrl, ["audit", "verify"]);
  const total = Number(/(\d+) record/.exec(clean.out)?.[1] ?? 0);

  const a = copy("rehash");
  await rehashFrom(join(a, "vigil.db"), Math.max(2, Math.floor(total / 2)));
  const va = await cli(a, `sqlite:${join(a, "vigil.db")}`, ["audit", "verify"]);
  out.push({
    id: "4c",
    attack: "edit an audit record, re-hash every record after it",
    held: clean.code === 0 && va.code !== 0,
    measured: `verify exit ${va.code}: ${va.out.trim().split("\n")[0]?.slice(0, 90)}`,
  });

  const b = copy("truncate");
  const db = new Database(join(b, "vigil.db"));
  const removed = db.prepare("DELETE FROM audit_log WHERE seq > (SELECT MAX(seq) - 3 FROM audit_log)").run().changes;
  db.close();
  const vb = await cli(b, `sqlite:${join(b, "vigil.db")}`, ["audit", "verify"]);
  out.push({
    id: "4d",
    attack: `delete the last ${removed} audit records`,
    held: clean.code === 0 && vb.code !== 0,
    measured: `verify exit ${vb.code}: ${vb.out.trim().split("\n")[0]?.slice(0, 90)}`,
  });
  return out;
}

/** 10 MB of nested JSON: many 64-deep objects in one list. */
function nestedBody(bytes: number): string {
  const unit = '{"a":'.repeat(64) + "1" + "}".repeat(64);
  const parts: string[] = [];
  let size = 2;
  while (size < bytes) {
    parts.push(unit);
    size += unit.length + 1;
  }
  return `[${parts.join(",")}]`;
}

/**
 * Class 5: four parallel 10 MB nested bodies without a key, in rounds. Held: healthz p99
 * stays under 100 ms and the controller's RSS grows less than 100 MB.
 */
export async function bodyFlood(x: Ctx): Promise<Outcome> {
  const { c } = x;
  const body = nestedBody(10 * 1024 * 1024);
  const before = rssBytes(c.child.pid);
  const rss = rssPeak(c.child.pid);
  x.probe.start();
  const from = Date.now();
  // Rounds of four parallel bodies for at least 3 s, so the p99 rests on ~150 probes rather than a handful.
  const rs: HttpResult[] = [];
  for (const end = Date.now() + 3000; Date.now() < end || rs.length === 0;) {
    rs.push(
      ...(await Promise.all(["/api/v1/iocs", "/api/v1/rules", "/api/v1/suppressions", "/api/v1/iocs"].map((path) => c.api("POST", path, { body, type: "application/json", timeoutMs: 60_000 })))),
    );
  }
  await new Promise((r) => setTimeout(r, 300));
  const lat = await x.probe.stop();
  const peak = rss.stop();
  const block = c.loopBlock(from, Date.now()).ms;
  x.underAttack.push(...lat);
  const grew = (peak - before) / 1048576;
  const counts = new Map<string, number>();
  for (const r of rs) counts.set(String(r.status || r.error || "?"), (counts.get(String(r.status || r.error || "?")) ?? 0) + 1);
  const statuses = [...counts].map(([k, n]) => `${n}× ${k}`).join(", ");
  return {
    id: "5",
    attack: "4 parallel 10 MB nested JSON bodies, no key (rounds for 3 s)",
    held: p99(lat) < HEALTHZ_P99_MS && grew < 100 && rs.every((r) => r.status !== 200 && r.status !== 201),
    measured: `healthz p99 ${ms(p99(lat))}, max ${ms(max(lat))}, longest event-loop block ${ms(block)}; RSS ${(before / 1048576).toFixed(0)} → ${(peak / 1048576).toFixed(0)} MB; answers ${statuses}`,
  };
}

/**
 * Class 6: the key check's cost. (a) An unknown key id against a wrong secret
 * for an existing id, interleaved, from one address; held when their medians
 * are within 1.5× (or 3 ms); each pair comes from its own address. (b) 400
 * wrong secrets in parallel from 127.0.0.2 and meanwhile a valid, never-used
 * key from 127.0.0.1; held when it is answered 200 within 250 ms (a few
 * scrypts) of the same flood made of malformed keys, which costs no scrypt:
 * on a loaded 2-core machine 400 connections alone delay it.
 */
export async function keyCheck(x: Ctx): Promise<Outcome[]> {
  const { c } = x;
  const secret = () => randomBytes(32).toString("base64url").slice(0, 43);
  const victimId = /^vk_([0-9a-f]{16})_/.exec(c.keys.readonly)![1]!;
  const unknown: number[] = [];
  const wrong: number[] = [];
  // Each pair from its own loopback address, so a per-address failure limit does not turn both into a cheap 429.
  for (let i = 0; i < 15; i++) {
    const local = `127.0.1.${i + 1}`;
    const u = () => c.api("GET", "/api/v1/agents", { key: `vk_${randomBytes(8).toString("hex")}_${secret()}`, local });
    const w = () => c.api("GET", "/api/v1/agents", { key: `vk_${victimId}_${secret()}`, local });
    if (i % 2) {
      unknown.push((await u()).ms);
      wrong.push((await w()).ms);
    } else {
      wrong.push((await w()).ms);
      unknown.push((await u()).ms);
    }
  }
  const mu = p(
    [...unknown].sort((a, b) => a - b),
    50,
  );
  const mw = p(
    [...wrong].sort((a, b) => a - b),
    50,
  );
  const out: Outcome[] = [
    {
      id: "6a",
      attack: "unknown key id vs wrong secret (timing)",
      held: Math.max(mu, mw) / Math.max(0.1, Math.min(mu, mw)) < 1.5 || Math.abs(mu - mw) < 3,
      measured: `median unknown ${mu.toFixed(1)} ms, wrong secret ${mw.toFixed(1)} ms`,
    },
  ];

  const newKey = async () => (await c.api("POST", "/api/v1/apikeys", { key: c.keys.admin, ...json({ role: "readonly", name: "bench fresh" }) })).json?.key as string;
  // 400 bad keys from 127.0.0.2 and, 20 ms in, a valid never-used key from 127.0.0.1.
  const flood = async (badKey: () => string) => {
    const fresh = await newKey();
    const bad = Array.from({ length: 400 }, () => c.api("GET", "/api/v1/agents", { key: badKey(), local: "127.0.0.2", timeoutMs: 60_000 }));
    await new Promise((r) => setTimeout(r, 20));
    const good = await c.api("GET", "/api/v1/agents", { key: fresh, local: "127.0.0.1" });
    await Promise.all(bad);
    return good;
  };
  // The same 400 connections with malformed keys (refused without any scrypt): what the HTTP load alone costs here.
  // Twice each, alternating; the fastest of each pair, so one scheduling hiccup on a shared machine decides nothing.
  const base: HttpResult[] = [];
  const wrongs: HttpResult[] = [];
  for (let i = 0; i < 2; i++) {
    base.push(await flood(() => "vk_malformed"));
    wrongs.push(await flood(() => `vk_${victimId}_${secret()}`));
  }
  const baseMs = Math.min(...base.map((r) => r.ms));
  const good = wrongs.reduce((a, b) => (b.ms < a.ms ? b : a));
  out.push({
    id: "6b",
    attack: "400 bad keys, then a valid uncached key",
    held: wrongs.every((r) => r.status === 200) && good.ms <= baseMs + 250,
    measured: `valid key answered ${wrongs.map((r) => r.status).join("/")} after ${ms(good.ms)} (best of 2); ${ms(baseMs)} behind 400 malformed keys (no scrypt)`,
  });
  return out;
}
