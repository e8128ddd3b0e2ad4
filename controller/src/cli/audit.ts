import { parseArgs } from "node:util";
import { AuditLog, auditView } from "../audit/audit-log";
import { openAuditLog } from "../audit/open-audit-log";
import { AuditRepository } from "../database/repositories/audit-repository";
import { DB_OPTIONS, fail, withDatabase } from "./cli-db";

/**
 * `audit verify` (exit 0 intact, 1 broken): recomputes the keyed chain with the
 * audit key (VIGIL_AUDIT_KEY or the data dir's) and holds its head against the
 * last checkpoint in the data dir. `audit export`: JSON lines on stdout.
 */
export async function auditCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { ...DB_OPTIONS }, strict: true });
  const flags = { database: values.database, dataDir: values["data-dir"] };
  if (sub === "verify") {
    return withDatabase(flags, async (ds, config) => {
      let audit;
      try {
        audit = openAuditLog(AuditRepository.of(ds), config, { create: false });
      } catch (err) {
        return fail(`audit verify: ${(err as Error).message}`);
      }
      const r = await audit.verify();
      if (r.ok) {
        const cp = r.checkpoint ? `, checkpoint seq ${r.checkpoint.seq} of ${r.checkpoint.time}` : ", no checkpoint yet";
        process.stdout.write(`audit chain intact: ${r.records} record(s), head seq ${r.headSeq} hash ${r.headHash}, keyed from seq ${r.keyedFrom ?? "-"}${cp}\n`);
        if (r.warning) process.stdout.write(`warning: ${r.warning}\n`);
        return 0;
      }
      process.stdout.write(`audit chain BROKEN at seq ${r.brokenAt}: ${r.reason} (${r.records} record(s) checked)\n`);
      return 1;
    });
  }
  if (sub === "export") {
    return withDatabase(flags, async (ds) => {
      // Export only reads records as stored; it needs no key (whoever verifies the export needs it).
      for await (const r of new AuditLog(AuditRepository.of(ds), { key: Buffer.alloc(32) }).scan()) {
        if (!process.stdout.write(JSON.stringify(auditView(r)) + "\n")) await new Promise((res) => process.stdout.once("drain", res));
      }
      return 0;
    });
  }
  return fail(`audit: expected "verify" or "export"`);
}
