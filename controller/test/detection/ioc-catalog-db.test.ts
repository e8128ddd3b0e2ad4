import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Ioc } from "@vigil/detection";
import type { DataSource } from "typeorm";
import { afterAll, describe, expect, it } from "vitest";
import { createDataSource } from "../../src/database/data-source";
import { IocRepository } from "../../src/database/repositories/ioc-repository";
import { IocCatalog } from "../../src/detection/ioc-catalog";
import { createPgDatabase } from "../support/controller";

async function open(kind: "sqlite" | "postgres"): Promise<{ ds: DataSource; cleanup: () => Promise<void> }> {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "vigil-ioccat-"));
    const ds = createDataSource({ url: `sqlite:${join(dir, "vigil.db")}` });
    await ds.initialize();
    await ds.runMigrations({ transaction: "each" });
    return { ds, cleanup: async () => void (await ds.destroy(), rmSync(dir, { recursive: true, force: true })) };
  }
  const db = await createPgDatabase();
  const ds = createDataSource({ url: db.url });
  await ds.initialize();
  await ds.runMigrations({ transaction: "each" });
  return { ds, cleanup: async () => void (await ds.destroy(), await db.drop()) };
}

describe.each(["sqlite", "postgres"] as const)("IOC catalog paging on %s", (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it("best first across pages, live count, in-place upserts, batched feed deletion", async () => {
    const { ds, cleanup } = await open(kind);
    cleanups.push(cleanup);
    let t = 1_000;
    const catalog = new IocCatalog(IocRepository.of(ds), () => t);
    await catalog.load();
    const list = Array.from({ length: 1200 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join("\n");
    expect((await catalog.importCsv(list, "low", "list")).imported).toBe(1200);
    t = 2_000;
    const hot = "type,value,confidence,expires\nip,192.0.2.1,90,\nip,192.0.2.2,90,\nip,192.0.2.3,95,1970-01-01T00:00:01.500Z\n";
    expect((await catalog.importCsv(hot, "hot", "csv")).imported).toBe(3);
    t = 3_000;
    // Re-imported: the index entry is replaced (not doubled) and its confidence follows.
    expect((await catalog.importCsv("type,value,confidence\nip,10.0.0.5,99\n", "low", "csv")).imported).toBe(1);
    expect(catalog.index.size).toBe(1203);
    expect(catalog.index.matchIp("10.0.0.5").map((i) => i.confidence)).toEqual([99]);

    const seen: Ioc[] = [];
    for await (const page of catalog.bestFirst(100)) seen.push(...page);
    expect(seen.length).toBe(1202); // the expired one is left out
    expect(seen.slice(0, 3).map((i) => `${i.value}:${i.confidence}`)).toEqual(["10.0.0.5:99", "192.0.2.2:90", "192.0.2.1:90"]);
    expect(new Set(seen.map((i) => i.value)).size).toBe(1202);
    expect(seen.slice(3).every((i) => i.confidence === 50)).toBe(true);
    expect(await catalog.countLive()).toBe(1202);

    expect(await catalog.removeSource("low")).toBe(1200);
    expect(catalog.index.size).toBe(3);
    expect(catalog.index.matchIp("10.0.0.5")).toEqual([]);
    expect(catalog.index.matchIp("192.0.2.1").length).toBe(1);
  });
});
