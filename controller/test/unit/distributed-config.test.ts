import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config";

const PG = "postgres://u:p@127.0.0.1:5432/db";

describe("distributed mode configuration", () => {
  it("is off by default and every role but all needs it", () => {
    const c = loadConfig({ dataDir: "/tmp/vigil-cfg-test" }, {});
    expect(c.distributed).toBeUndefined();
    expect(c.role).toBe("all");
    expect(() => loadConfig({ dataDir: "/tmp/vigil-cfg-test", role: "worker" }, {})).toThrow(/needs distributed mode/);
  });

  it("refuses NATS with SQLite, and bad prefixes, partitions and roles", () => {
    expect(() => loadConfig({ dataDir: "/tmp/vigil-cfg-test" }, { VIGIL_NATS_URL: "nats://127.0.0.1:4222" })).toThrow(/needs PostgreSQL/);
    expect(() => loadConfig({ database: PG }, { VIGIL_NATS_URL: "nats://h:4222", VIGIL_NATS_PREFIX: "a.b" })).toThrow(ConfigError);
    expect(() => loadConfig({ database: PG }, { VIGIL_NATS_URL: "nats://h:4222", VIGIL_PARTITIONS: "0" })).toThrow(/VIGIL_PARTITIONS/);
    expect(() => loadConfig({ database: PG, role: "boss" }, { VIGIL_NATS_URL: "nats://h:4222" })).toThrow(/--role/);
  });

  it("reads the flags and environment of a replica", () => {
    const c = loadConfig({ database: PG, natsUrl: "nats://a:4222,nats://b:4222", role: "ingest" }, { VIGIL_NATS_PREFIX: "site1", VIGIL_PARTITIONS: "32", VIGIL_REPLICA_ID: "r-1" });
    expect(c.role).toBe("ingest");
    expect(c.distributed).toMatchObject({ natsUrl: "nats://a:4222,nats://b:4222", prefix: "site1", partitions: 32, replicaId: "r-1", leaseTtlMs: 10_000, storageConnections: 4 });
  });
});
