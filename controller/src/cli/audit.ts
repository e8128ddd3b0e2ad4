import { parseArgs } from "node:util";
import { AuditLog, auditView } from "../audit/audit-log";
import { DB_OPTIONS, fail, withDatabase } from "./cli-db";

/** `audit verify` (exit 0 intact, 1 broken) and `audit export` (JSON lines on stdout). */
export async function auditCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { ...DB_OPTIONS }, strict: true });
  const flags = { database: values.database, dataDir: values["data-dir"] };
  if (sub === "verify") {
    return withDatabase(flags, async (ds) => {
      const r = await new AuditLog(ds).verify();
      if (r.ok) {
        process.stdout.write(`audit chain intact: ${r.records} record(s), head seq ${r.headSeq} hash ${r.headHash}\n`);
        return 0;
      }
      process.stdout.write(`audit chain BROKEN at seq ${r.brokenAt}: ${r.reason} (${r.records} record(s) checked)\n`);
      return 1;
    });
  }
  if (sub === "export") {
    return withDatabase(flags, async (ds) => {
      for await (const r of new AuditLog(ds).scan()) {
        if (!process.stdout.write(JSON.stringify(auditView(r)) + "\n")) await new Promise((res) => process.stdout.once("drain", res));
      }
      return 0;
    });
  }
  return fail(`audit: expected "verify" or "export"`);
}
