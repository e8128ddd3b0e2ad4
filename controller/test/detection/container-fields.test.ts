import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, FileAction, NetworkAction } from "@vigil/proto";
import { createPgDatabase, type TestController } from "../support/controller";
import { request } from "../support/http";
import { connect, send, settled, startDetectionController, T0, type Make } from "./support";

/**
 * Where a file write, a connection and a DNS lookup came from (issue #13): the container fields the
 * agent puts on file, network and DNS events reach storage, the API and Sigma (ContainerId,
 * ContainerRuntime, CgroupPath, PodUid, SystemdUnit, as on process events), on PostgreSQL; and
 * values longer than any real one (the host chooses its cgroups' names) are clipped and counted.
 */
const ID = "d0c4".repeat(16);
const rule = (uuid: string, category: string, field: string, value: string) =>
  `title: From container (${category})\nid: ${uuid}\nstatus: test\nlevel: high\nlogsource:\n  product: linux\n  category: ${category}\ndetection:\n  sel:\n    ${field}: '${value}'\n  condition: sel\n`;
const RULES: Array<[id: string, category: string, field: string, value: string]> = [
  ["a1a1a1a1-0000-4000-8000-000000000001", "file_event", "ContainerId", ID],
  ["a1a1a1a1-0000-4000-8000-000000000002", "network_connection", "ContainerRuntime", "docker"],
  ["a1a1a1a1-0000-4000-8000-000000000003", "dns_query", "PodUid", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"],
  ["a1a1a1a1-0000-4000-8000-000000000004", "file_delete", "SystemdUnit", `docker-${ID}.scope`],
];
const place = (containerId: string, extra: Record<string, string> = {}) => ({
  cgroupPath: `/system.slice/docker-${containerId}.scope`,
  containerId,
  containerRuntime: "docker",
  systemdUnit: `docker-${containerId}.scope`,
  ...extra,
});

const file =
  (action: FileAction, path: string, where: Record<string, string>): Make =>
  () => ({
    eventTimeMs: T0,
    body: { $case: "file", file: { action, path, pid: 4321, exe: "/usr/bin/dd", user: "root", ...where } },
  });
const conn: Make = () => ({
  eventTimeMs: T0,
  body: {
    $case: "network",
    network: {
      action: NetworkAction.NETWORK_ACTION_OPEN,
      direction: Direction.DIRECTION_OUTBOUND,
      protocol: "tcp",
      remoteAddress: "203.0.113.9",
      remotePort: 4444,
      pid: 4321,
      exe: "/usr/bin/nc",
      ...place(ID),
    },
  },
});
const lookup: Make = () => ({
  eventTimeMs: T0,
  body: { $case: "dns", dns: { queryName: "c2.example", queryType: "A", answered: true, pid: 4321, exe: "/usr/bin/nc", ...place(ID, { podUid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" }) } },
});

describe("container fields on file, network and DNS events (PostgreSQL)", () => {
  let ctl: TestController;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const db = await createPgDatabase();
    drop = db.drop;
    ctl = await startDetectionController({ databaseUrl: db.url });
    for (const [id, category, field, value] of RULES) {
      const r = await request(ctl, "POST", `/api/v1/rules?name=${id}.yml`, rule(id, category, field, value), { "content-type": "text/yaml" });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
  });
  afterAll(async () => {
    await ctl?.dispose();
    await drop?.();
  });

  it("are stored, searchable, and matched by Sigma rules on ContainerId, ContainerRuntime, PodUid and SystemdUnit", async () => {
    const a = await connect(ctl, "ctr-host");
    await send(a, 1, [
      file(FileAction.FILE_ACTION_CREATE, "/etc/cron.d/dropped", place(ID)),
      // The same write from the host: no container, no alert.
      file(FileAction.FILE_ACTION_CREATE, "/etc/cron.d/host", {}),
      conn,
      lookup,
      file(FileAction.FILE_ACTION_DELETE, "/var/log/wiped", place(ID)),
    ]);
    await settled(ctl);
    const events = (await request(ctl, "GET", "/api/v1/events?agent=ctr-host")).body.items as Array<Record<string, any>>;
    const bySeq = new Map(events.map((e) => [e.seq, e]));
    expect(bySeq.get(1)!.file).toMatchObject(place(ID));
    expect(bySeq.get(2)!.file.containerId).toBeUndefined();
    expect(bySeq.get(3)!.network).toMatchObject(place(ID));
    expect(bySeq.get(4)!.dns).toMatchObject({ ...place(ID), podUid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" });
    // An analyst pasting a container id finds what happened in it, not only its processes.
    const found = (await request(ctl, "GET", `/api/v1/events?agent=ctr-host&q=${ID}`)).body.items as Array<{ seq: number }>;
    expect(found.map((e) => e.seq).sort()).toEqual([1, 3, 4, 5]);
    const alerts = (await request(ctl, "GET", "/api/v1/alerts?agent=ctr-host")).body.items as Array<{ rule: { id: string }; count: number }>;
    // (Built-in rules fire too, on a cron.d write and a log deleted: only this test's are counted here.)
    const ours = new Set(RULES.map(([id]) => id));
    const fired = alerts.filter((x) => ours.has(x.rule.id)).map((x) => [x.rule.id, x.count]);
    expect(fired.sort()).toEqual(RULES.map(([id]) => [id, 1]));
    a.close();
  });

  it("clips a container id, runtime, pod UID and unit longer than real ones, and counts each", async () => {
    const metric = async () => Number(/^vigil_ingest_fields_sanitized_total\{outcome="clipped"\} (\d+)$/m.exec((await ctl.get("/metrics")).body as string)?.[1] ?? 0);
    const before = await metric();
    const a = await connect(ctl, "hostile-host");
    const long = { containerId: ID + "f".repeat(400), containerRuntime: "d".repeat(33), podUid: "p".repeat(65), systemdUnit: `${"u".repeat(300)}.scope` };
    // Exactly at the bounds: kept as sent.
    const edge = { containerId: "e".repeat(128), containerRuntime: "r".repeat(32), podUid: "p".repeat(64), systemdUnit: "u".repeat(255) };
    await send(a, 1, [file(FileAction.FILE_ACTION_CREATE, "/tmp/long", long), file(FileAction.FILE_ACTION_CREATE, "/tmp/edge", edge)]);
    await settled(ctl);
    const events = (await request(ctl, "GET", "/api/v1/events?agent=hostile-host")).body.items as Array<Record<string, any>>;
    const clipped = events.find((e) => e.seq === 1)!.file;
    expect(clipped.containerId).toBe(`${(ID + "f".repeat(400)).slice(0, 128)}…[truncated]`);
    expect(clipped.containerRuntime).toBe(`${"d".repeat(32)}…[truncated]`);
    expect(clipped.podUid).toBe(`${"p".repeat(64)}…[truncated]`);
    expect(clipped.systemdUnit).toBe(`${"u".repeat(255)}…[truncated]`);
    expect(events.find((e) => e.seq === 2)!.file).toMatchObject(edge);
    expect((await metric()) - before).toBe(4);
    // A clipped id is not the container's: the ContainerId rule does not fire on it.
    const alerts = (await request(ctl, "GET", "/api/v1/alerts?agent=hostile-host")).body.items as Array<{ rule: { id: string } }>;
    expect(alerts.filter((x) => x.rule.id === RULES[0]![0])).toEqual([]);
    a.close();
  });
});
