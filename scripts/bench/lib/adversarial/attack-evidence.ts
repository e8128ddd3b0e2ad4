import { createHash, createPublicKey } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { until } from "./controller";
import type { Ctx, Outcome } from "./context";
import { json } from "./http";
import { underTest } from "./under-test";

const TERMINAL = new Set(["succeeded", "failed", "refused", "expired"]);

/**
 * Strings that would only appear in a response if the file's bytes were in it:
 * a distinctive text line, the base64 of its start (the agent returns base64
 * from offset 0) and the sha256 of the whole file (the agent reports the hash
 * of what it returned).
 */
function fingerprints(content: Buffer): string[] {
  const line =
    content
      .toString("utf8")
      .split("\n")
      .find((l) => l.length >= 16 && !l.startsWith("-----")) ?? "";
  return [line.slice(0, 48), content.subarray(0, 36).toString("base64"), createHash("sha256").update(content).digest("hex")].filter((s) => s.length >= 16);
}

function leaks(texts: string[], marks: string[]): boolean {
  return texts.some((t) => marks.some((m) => t.includes(m)));
}

/** Issues collect_evidence and follows the command to its end; every response body seen is returned. */
async function collect(
  x: Ctx,
  key: string,
  agentId: string,
  params: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<{ status: number; texts: string[]; state?: string; id?: string }> {
  const r = await x.c.api("POST", `/api/v1/agents/${agentId}/commands`, { key, ...json({ type: "collect_evidence", params, ...extra }) });
  const texts = [r.text];
  if (r.status >= 300 || !r.json?.id) return { status: r.status, texts };
  const id = r.json.id as string;
  x.signedCommands.push(id);
  let state: string | undefined;
  await until(
    async () => {
      const g = await x.c.api("GET", `/api/v1/commands/${id}`, { key: x.c.keys.admin });
      state = g.json?.state;
      if (TERMINAL.has(state ?? "")) {
        texts.push(g.text);
        return true;
      }
      return false;
    },
    20_000,
    200,
  );
  // Whatever route the output may have moved to, the issuing role's own view counts too.
  const own = await x.c.api("GET", `/api/v1/commands/${id}`, { key });
  texts.push(own.text);
  return { status: r.status, texts, state, id };
}

/**
 * Class 3. Assumptions, since the fix's names are not known when this was
 * written: the analyst may be refused at the API or by the agent; either way
 * no response may carry the file's bytes. The deny list must hold for admin
 * too ("limits no role can lift"). A file read without a reason must be
 * refused. Readonly and integration must not see evidence output.
 */
export async function evidence(x: Ctx): Promise<Outcome[]> {
  const { c, agent } = x;
  const out: Outcome[] = [];
  const shadowMarks = existsSync("/etc/shadow") ? fingerprints(readFileSync("/etc/shadow")) : [];
  const keyMarks = fingerprints(readFileSync(agent.keyFile));

  // Only root can read /etc/shadow: as another user the agent's refusal would prove nothing.
  if (process.getuid?.() !== 0 || !shadowMarks.length)
    out.push({ id: "3a", attack: "analyst collect_evidence `/etc/../etc/shadow`", held: false, measured: "", skipped: "needs root (the agent must be able to read /etc/shadow)" });
  else {
    const a = await collect(x, c.keys.analyst, agent.agentId, { filePath: "/etc/../etc/shadow", reason: "bench" });
    out.push({
      id: "3a",
      attack: "analyst collect_evidence `/etc/../etc/shadow`",
      held: !leaks(a.texts, shadowMarks),
      measured: `API ${a.status}${a.state ? `, command ${a.state}` : ""}; ${leaks(a.texts, shadowMarks) ? "shadow CONTENTS RETURNED" : "no contents"}`,
    });
  }

  const dir = mkdtempSync(join(x.tmp, "evidence-"));
  const link = join(dir, "notes.txt");
  symlinkSync(agent.keyFile, link);
  const b = await collect(x, c.keys.analyst, agent.agentId, { filePath: link, reason: "bench" });
  out.push({
    id: "3b",
    attack: "analyst collect_evidence of a symlink to the agent's key",
    held: !leaks(b.texts, keyMarks),
    measured: `API ${b.status}${b.state ? `, command ${b.state}` : ""}; ${leaks(b.texts, keyMarks) ? "agent key RETURNED" : "no contents"}`,
  });

  const k = await collect(x, c.keys.admin, agent.agentId, { filePath: agent.keyFile, reason: "bench: deny list must hold for admin" });
  out.push({
    id: "3c",
    attack: "admin (with reason) collect_evidence of the agent's private key",
    held: !leaks(k.texts, keyMarks),
    measured: `API ${k.status}${k.state ? `, command ${k.state}` : ""}; ${leaks(k.texts, keyMarks) ? "agent key RETURNED" : "no contents"}`,
  });

  // 3d: output visibility. A benign file collected by admin; readonly and integration then read the command.
  const benign = join(dir, "evidence.txt");
  const marker = `vigil-adversarial-evidence-${Math.random().toString(36).slice(2)}`;
  writeFileSync(benign, `${marker}\n`.repeat(4));
  const d = await collect(x, c.keys.admin, agent.agentId, { filePath: benign, reason: "bench: visibility" }, { ttlSeconds: 7 * 86400 });
  const adminSaw = leaks(d.texts, fingerprints(readFileSync(benign)));
  const lower: string[] = [];
  for (const role of ["readonly", "integration"] as const) {
    if (d.id) lower.push((await c.api("GET", `/api/v1/commands/${d.id}`, { key: c.keys[role] })).text);
    lower.push((await c.api("GET", `/api/v1/commands?agent=${agent.agentId}`, { key: c.keys[role] })).text);
  }
  const lowerSaw = leaks(lower, fingerprints(readFileSync(benign)));
  out.push({
    id: "3d",
    attack: "readonly / integration read evidence output",
    held: adminSaw && !lowerSaw,
    measured: !adminSaw
      ? `inconclusive: the admin's own collection returned no contents (command ${d.state ?? d.status})`
      : lowerSaw
        ? "file contents VISIBLE to readonly/integration"
        : "contents visible to admin only",
  });

  const big = await c.api("POST", `/api/v1/agents/${agent.agentId}/commands`, {
    key: c.keys.admin,
    ...json({ type: "collect_evidence", params: { filePath: benign, fileMaxBytes: 16 * 1024 * 1024, reason: "bench" } }),
  });
  out.push({ id: "3e", attack: "fileMaxBytes 16 MiB (agent limit 1 MiB)", held: big.status === 400, measured: `API ${big.status}` });

  const noReason = await c.api("POST", `/api/v1/agents/${agent.agentId}/commands`, { key: c.keys.admin, ...json({ type: "collect_evidence", params: { filePath: benign } }) });
  out.push({ id: "3f", attack: "admin file read without a reason", held: noReason.status >= 400 && noReason.status < 500, measured: `API ${noReason.status}` });
  return out;
}

/**
 * Class 12a: a captured signed command replayed after the agent's clock went
 * forward (pruning its id) and back. This one runs the agent's real
 * CommandVerifier and replay store in the bench with an injected clock: the
 * wall clock of a running machine cannot be moved for one process (time
 * namespaces do not cover CLOCK_REALTIME), so the clock is the only part mocked.
 */
export async function replayAfterRollback(x: Ctx): Promise<Outcome> {
  // Two genuinely signed commands for a certified decoy agent (a hand-driven stream: nothing runs).
  const target = x.decoyAgentId ?? x.agent.agentId;
  const issue = async (ttlSeconds?: number) => {
    const r = await x.c.api("POST", `/api/v1/agents/${target}/commands`, {
      key: x.c.keys.admin,
      ...json({ type: "collect_evidence", params: { processes: true, reason: "bench: replay" }, ...(ttlSeconds ? { ttlSeconds } : {}) }),
    });
    return r.json?.id as string | undefined;
  };
  const ids = [await issue(), await issue(7 * 86400)];
  const rows = ids
    .map((id) =>
      id
        ? x.c.sql<{ id: string; agent_id: string; type: string; params_json: string; issued_at: number; expires_at: number; signature: string }>(
            "SELECT id, agent_id, type, params_json, issued_at, expires_at, signature FROM commands WHERE id = ?",
            id,
          )[0]
        : undefined,
    )
    .filter((r): r is NonNullable<typeof r> => !!r);
  const short = rows.find((r) => r.expires_at - r.issued_at < 2 * 86400_000);
  const long = rows.find((r) => r.expires_at - r.issued_at >= 2 * 86400_000);
  if (!short || !long) return { id: "12a", attack: "command replay after agent clock rollback", held: false, measured: "inconclusive: could not issue two signed commands" };
  const pem = readFileSync(join(x.c.dataDir, "keys", "command-signing.pem"), "utf8");
  const raw = createPublicKey(pem).export({ type: "spki", format: "der" }).subarray(-32);
  const cmd = (r: typeof short) => ({
    id: r.id,
    agentId: r.agent_id,
    type: r.type,
    paramsJson: r.params_json,
    issuedAtMs: Number(r.issued_at),
    expiresAtMs: Number(r.expires_at),
    signature: Buffer.from(r.signature, "base64"),
  });
  const stateDir = mkdtempSync(join(x.tmp, "replay-"));
  let now = Number(short.issued_at) + 1000;
  const { CommandVerifier } = await underTest<typeof import("../../../../agent/src/commands/verify")>("agent/src/commands/verify.ts");
  const verifier = () => new CommandVerifier({ controllerPublicKey: raw, agentId: short.agent_id, stateDir, now: () => now });
  const first = verifier().verify(cmd(short) as never);
  now = Number(short.issued_at) + 2 * 86400_000; // clock jumps 2 days ahead; a later command prunes old ids
  const later = verifier().verify(cmd(long) as never);
  now = Number(short.issued_at) + 2000; // clock rolled back; the agent restarts
  const replay = verifier().verify(cmd(short) as never);
  if (!first.ok) return { id: "12a", attack: "command replay after agent clock rollback", held: false, measured: `inconclusive: the genuine command was refused (${first.code})` };
  return {
    id: "12a",
    attack: "command replay after agent clock rollback",
    held: !replay.ok,
    measured: `replay ${replay.ok ? "ACCEPTED" : `refused (${replay.code})`}; later command ${later.ok ? "ok" : later.code}`,
  };
}

/** Class 12b: a 10 KB caseId. Issued against a certified decoy agent, so nothing runs. */
export async function longCaseId(x: Ctx): Promise<Outcome> {
  const target = x.decoyAgentId ?? x.agent.agentId;
  const r = await x.c.api("POST", `/api/v1/agents/${target}/commands`, {
    key: x.c.keys.analyst,
    ...json({ type: "collect_evidence", params: { processes: true, reason: "bench" }, caseId: "c".repeat(10 * 1024) }),
  });
  return { id: "12b", attack: "10 KB caseId", held: r.status === 400, measured: `API ${r.status}` };
}
