import type { DataSource } from "typeorm";
import { loadConfig, type ControllerConfig } from "../config/config";
import { createDataSource } from "../database/data-source";

/**
 * Admin commands work on the database directly (the controller may or may
 * not be running); migrations are applied first, as `serve` would.
 */
export async function withDatabase<T>(flags: { database?: string; dataDir?: string }, fn: (ds: DataSource, config: ControllerConfig) => Promise<T>): Promise<T> {
  const config = loadConfig({ database: flags.database, dataDir: flags.dataDir });
  const ds = createDataSource({ url: config.databaseUrl, sqliteSynchronous: config.sqliteSynchronous });
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: "each" });
    return await fn(ds, config);
  } finally {
    await ds.destroy();
  }
}

export const DB_OPTIONS = { database: { type: "string" }, "data-dir": { type: "string" } } as const;

export function fail(message: string, code = 2): number {
  process.stderr.write(`vigil-controller: ${message}\n`);
  return code;
}
