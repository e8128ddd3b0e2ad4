import type { DataSource } from "typeorm";

/** Whether the database answers, for the health endpoint (which must not reach TypeORM itself). */
export class DatabaseHealth {
  constructor(private readonly ds: DataSource) {}

  /** "sqlite" (better-sqlite3) or "postgres": what the health answer reports. */
  get engine(): string {
    return this.ds.options.type;
  }

  async reachable(): Promise<boolean> {
    try {
      await this.ds.query("SELECT 1");
      return true;
    } catch {
      return false;
    }
  }
}
