import { parseArgs } from "node:util";
import { appendFromCli } from "../audit/open-audit-log";
import { AuditRepository } from "../database/repositories/audit-repository";
import { ApiKeys } from "../auth/api-keys";
import { ApiKeyRepository } from "../database/repositories/api-key-repository";
import { isRole, ROLES } from "../http/roles";
import { DB_OPTIONS, fail, withDatabase } from "./cli-db";

/** `apikey create --role R [--name N]`, `apikey list`, `apikey revoke ID`. */
export async function apikeyCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({ args: rest, options: { ...DB_OPTIONS, role: { type: "string" }, name: { type: "string" } }, strict: true, allowPositionals: true });
  const flags = { database: values.database, dataDir: values["data-dir"] };
  if (sub === "create") {
    if (!isRole(values.role)) return fail(`apikey create: --role must be one of ${ROLES.join(", ")}`);
    const role = values.role;
    return withDatabase(flags, async (ds, config) => {
      const created = await new ApiKeys(ApiKeyRepository.of(ds)).create(role, values.name ?? "", "cli");
      await appendFromCli(AuditRepository.of(ds), config, (a) => a.append({ actor: "cli", action: "apikey.created", target: `apikey:${created.view.id}`, details: { role, name: created.view.name } }));
      process.stdout.write(`${created.key}\n\nShown once; only an scrypt hash is stored. Role ${role}. Use it as: Authorization: Bearer <key>\n`);
      return 0;
    });
  }
  if (sub === "list") {
    return withDatabase(flags, async (ds) => {
      for (const k of await new ApiKeys(ApiKeyRepository.of(ds)).list())
        process.stdout.write(`${k.id}  ${k.role.padEnd(11)}  ${k.revoked ? "revoked" : "active "}  ${k.name || "-"}  created ${k.createdAt} by ${k.createdBy}\n`);
      return 0;
    });
  }
  if (sub === "revoke") {
    const id = positionals[0];
    if (!id) return fail("apikey revoke: give the key id (see apikey list)");
    return withDatabase(flags, async (ds, config) => {
      if (!(await new ApiKeys(ApiKeyRepository.of(ds)).revoke(id))) return fail(`apikey revoke: no active key "${id}"`, 1);
      await appendFromCli(AuditRepository.of(ds), config, (a) => a.append({ actor: "cli", action: "apikey.revoked", target: `apikey:${id}` }));
      process.stdout.write(`revoked ${id} (a running controller stops accepting it within 30 s)\n`);
      return 0;
    });
  }
  return fail(`apikey: expected "create", "list" or "revoke"`);
}
