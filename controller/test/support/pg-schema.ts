import type { DataSourceOptions } from "typeorm";
import { dataSourceOptions } from "../../src/database/data-source";
import { PG_ADMIN_URL, pgAdmin } from "./controller";

export interface PgSchema {
  name: string;
  /** DataSource options whose connections use only this schema: unqualified SQL (the repositories') and the migrations land in it. */
  options(over?: Partial<DataSourceOptions>): DataSourceOptions;
  drop(): Promise<void>;
}

/** A schema of its own in the test database (127.0.0.1:5432, db `test`), dropped by drop(). */
export async function createPgSchema(prefix = "vigil_medium"): Promise<PgSchema> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await pgAdmin(`CREATE SCHEMA ${name}`);
  const base = dataSourceOptions({ url: PG_ADMIN_URL }) as DataSourceOptions & { extra?: Record<string, unknown> };
  return {
    name,
    options: (over = {}) => ({ ...base, schema: name, extra: { ...base.extra, options: `-c search_path=${name}` }, ...over }) as DataSourceOptions,
    drop: () => pgAdmin(`DROP SCHEMA IF EXISTS ${name} CASCADE`),
  };
}
