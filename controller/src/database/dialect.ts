import type { DataSource } from "typeorm";

export type Dialect = "sqlite" | "postgres";

export function dialectOf(ds: DataSource): Dialect {
  return ds.options.type === "postgres" ? "postgres" : "sqlite";
}
