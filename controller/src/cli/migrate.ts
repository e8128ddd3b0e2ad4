import { parseArgs } from "node:util";
import { loadConfig, redactUrl } from "../config/config";
import { createDataSource } from "../database/data-source";

export async function migrateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { database: { type: "string" }, "data-dir": { type: "string" }, revert: { type: "boolean" } }, strict: true });
  const config = loadConfig({ database: values.database, dataDir: values["data-dir"] });
  const ds = createDataSource({ url: config.databaseUrl });
  await ds.initialize();
  try {
    if (values.revert) {
      await ds.undoLastMigration({ transaction: "each" });
      console.log(`reverted the last migration on ${redactUrl(config.databaseUrl)}`);
    } else {
      const ran = await ds.runMigrations({ transaction: "each" });
      console.log(ran.length ? `applied ${ran.map((m) => m.name).join(", ")} on ${redactUrl(config.databaseUrl)}` : `up to date: ${redactUrl(config.databaseUrl)}`);
    }
  } finally {
    await ds.destroy();
  }
  return 0;
}
