import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataSource } from "typeorm";
import { afterAll, describe, expect, it } from "vitest";
import { dataSourceOptions } from "../../src/database/data-source";
import { migrations } from "../../src/database/migrations";
import { EvidenceOutOfEvents1733400000000 } from "../../src/database/migrations/1733400000000-EvidenceOutOfEvents";
import { createPgDatabase } from "../support/controller";

const dir = mkdtempSync(join(tmpdir(), "vigil-ev-mig-"));
const drops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const d of drops) await d();
  rmSync(dir, { recursive: true, force: true });
});

const OUTPUT = JSON.stringify({ file: { path: "/etc/app.conf", base64: Buffer.from("db_password=hunter2").toString("base64") } });

/** An install from before the fix (every migration before EvidenceOutOfEvents, not just "all but the last": later ones are appended): evidence sits in stored command_result events, readable by every role. */
async function upgradeFrom(url: string): Promise<Array<{ action: string; data: Record<string, any> }>> {
  const before = new DataSource({ ...dataSourceOptions({ url }), migrations: migrations.slice(0, migrations.indexOf(EvidenceOutOfEvents1733400000000)) } as ConstructorParameters<
    typeof DataSource
  >[0]);
  await before.initialize();
  await before.runMigrations();
  const pg = url.startsWith("postgres");
  const insert = `INSERT INTO events (agent_id, seq, type, action, event_time, received_at, summary, data) VALUES (${pg ? "$1, $2, $3, $4, $5, $6, $7, $8" : "?, ?, ?, ?, ?, ?, ?, ?"})`;
  const row = (seq: number, action: string, attributes: Record<string, string>) => ["a1", seq, "agent", action, 1, 1, action, JSON.stringify({ kind: action, attributes })];
  await before.query(insert, row(1, "command_result", { commandId: "c1", type: "collect_evidence", status: "succeeded", output: OUTPUT }));
  await before.query(insert, row(2, "command_result", { commandId: "c2", type: "isolate", status: "refused" }));
  await before.query(insert, row(3, "heartbeat", { output: "not a command's" }));
  await before.destroy();

  const after = new DataSource(dataSourceOptions({ url }));
  await after.initialize();
  await after.runMigrations();
  const rows = (await after.query(`SELECT action, data FROM events ORDER BY seq`)) as Array<{ action: string; data: unknown }>;
  await after.destroy();
  return rows.map((r) => ({ action: r.action, data: typeof r.data === "string" ? JSON.parse(r.data) : (r.data as Record<string, any>) }));
}

describe("upgrading removes evidence already stored in events", () => {
  it.each(["sqlite", "postgres"])("%s", async (dialect) => {
    let url = `sqlite:${join(dir, "old.db")}`;
    if (dialect === "postgres") {
      const db = await createPgDatabase();
      drops.push(db.drop);
      url = db.url;
    }
    const rows = await upgradeFrom(url);
    expect(rows[0].data.attributes).toEqual({ commandId: "c1", type: "collect_evidence", status: "succeeded" });
    expect(rows[1].data.attributes).toEqual({ commandId: "c2", type: "isolate", status: "refused" });
    expect(rows[2].data.attributes).toEqual({ output: "not a command's" });
    expect(JSON.stringify(rows)).not.toContain("ZGJfcGFzc3dvcmQ9aHVudGVyMg");
  });
});
