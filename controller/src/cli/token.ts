import { parseArgs } from "node:util";
import { appendFromCli } from "../audit/open-audit-log";
import { AuditRepository } from "../database/repositories/audit-repository";
import { ConfigError } from "../config/config-error";
import { parseDuration } from "../config/duration";
import { EnrollmentTokenRepository } from "../database/repositories/enrollment-token-repository";
import { CertificateAuthority } from "../trust/ca";
import { EnrollmentTokens } from "../trust/enrollment-tokens";
import { DB_OPTIONS, fail, withDatabase } from "./cli-db";

/** `token create [--ttl 24h] [--uses N] [--tags a,b]`, `token list`. The token is printed once, never stored. */
export async function tokenCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { ...DB_OPTIONS, ttl: { type: "string" }, uses: { type: "string" }, tags: { type: "string" }, json: { type: "boolean" } }, strict: true });
  const flags = { database: values.database, dataDir: values["data-dir"] };
  if (sub === "list") {
    return withDatabase(flags, async (ds) => {
      for (const t of await new EnrollmentTokens(EnrollmentTokenRepository.of(ds)).list())
        process.stdout.write(`${t.id}  uses ${t.usesLeft}/${t.usesTotal}  expires ${t.expiresAt}  tags ${t.tags.join(",") || "-"}  by ${t.createdBy}\n`);
      return 0;
    });
  }
  if (sub !== "create") return fail(`token: expected "create" or "list"`);
  let ttlMs: number;
  try {
    ttlMs = parseDuration(values.ttl ?? "24h", "--ttl");
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }
  const uses = Number(values.uses ?? "1");
  const tags = (values.tags ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  return withDatabase(flags, async (ds, config) => {
    let created;
    try {
      created = await new EnrollmentTokens(EnrollmentTokenRepository.of(ds)).create({ ttlMs, uses, tags, createdBy: "cli" });
    } catch (err) {
      if (err instanceof RangeError) return fail(`token create: ${err.message}`);
      throw err;
    }
    const view = created.view;
    await appendFromCli(AuditRepository.of(ds), config, (a) => a.append({ actor: "cli", action: "token.created", target: `token:${view.id}`, details: { uses, tags, expiresAt: view.expiresAt } }));
    const ca = await CertificateAuthority.loadOrCreate(config.caDir);
    if (values.json) {
      process.stdout.write(JSON.stringify({ token: created.token, id: created.view.id, expiresAt: created.view.expiresAt, uses, tags, caFingerprint: ca.fingerprint }) + "\n");
    } else {
      process.stdout.write(
        `${created.token}\n\n` +
          `Shown once; only its hash is stored. Expires ${created.view.expiresAt}, ${uses} use(s)${tags.length ? `, tags ${tags.join(",")}` : ""}.\n` +
          `Keep it off command lines: put it in a root-only file on the host (sudo sh -c 'umask 077; cat > /root/vigil-token'), then\n` +
          `  vigil-controller install-command     (prints the pinned install line), or\n` +
          `  vigil-agent enroll --controller HOST:PORT --token-file /root/vigil-token --ca-pin ${ca.fingerprint}\n`,
      );
    }
    return 0;
  });
}
