import { type Event, ProcessAction } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { connect, send, settled, startDetectionController, T0 } from "../detection/support";

const CURL_USAGE = "ea34fb97-e2c4-4afb-810f-785e4459b194"; // SigmaHQ, level low
const CRONTAB_REMOVAL = "c2e234de-03a3-41e1-b39a-1e56dc17ba67"; // SigmaHQ, level medium
const TMP_EXEC_DUPLICATE = "312b42b1-bded-4441-8b58-163a3af58775"; // SigmaHQ, disabled by vigil-overrides.json
const ACCOUNT_CREATED = "8d4b2e17-3a6f-4c95-b0d8-1e7f5a9c2b43"; // built-in, level low

const run = (timeMs: number, exe: string, commandLine: string) => (): Partial<Event> =>
  ({
    eventTimeMs: timeMs,
    body: { $case: "process", process: { action: ProcessAction.PROCESS_ACTION_START, pid: 4100, ppid: 1, exe, commandLine, user: "ops", uid: 1000, name: exe.split("/").pop() } },
  }) as Partial<Event>;

describe("SigmaHQ pack in the controller (bundled, VIGIL_SIGMAHQ_PACK on by default)", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startDetectionController();
  });
  afterAll(async () => {
    await ctl?.stop();
  });

  it("GET /api/v1/rules shows the pack's rules with their source and whether they alert", async () => {
    const r = await request(ctl, "GET", "/api/v1/rules?origin=sigmahq");
    expect(r.status).toBe(200);
    const byId = new Map<string, any>(r.body.items.map((x: any) => [x.id, x]));
    expect(byId.size).toBe(ctl.detection.rules.pack!.manifest.compiled);
    expect(byId.size).toBeGreaterThan(100);
    expect(r.body.items.every((x: any) => x.origin === "sigmahq" && x.source.startsWith("sigmahq/"))).toBe(true);
    expect(byId.get(CURL_USAGE)).toMatchObject({ level: "low", alerts: false, enabled: true });
    expect(byId.get(CRONTAB_REMOVAL)).toMatchObject({ level: "medium", alerts: true, enabled: true });
    expect(byId.get(TMP_EXEC_DUPLICATE)).toMatchObject({ enabled: false });
    // Every pack rule below medium is quiet, every other alerts.
    for (const x of r.body.items) expect(x.alerts).toBe(x.level !== "low" && x.level !== "informational");
    const builtin = await request(ctl, "GET", "/api/v1/rules?origin=builtin");
    expect(builtin.body.items.find((x: any) => x.id === ACCOUNT_CREATED)).toMatchObject({ level: "low", alerts: true });
    expect(ctl.detection.rules.packErrors).toEqual([]);
  });

  it("an upload may not take a pack rule's name", async () => {
    const r = await request(ctl, "POST", "/api/v1/rules?name=sigmahq/process_creation/mine.yml", {
      yaml: "title: Mine\nlogsource: {product: linux}\ndetection:\n  sel: {Image: /x}\n  condition: sel\nlevel: high\n",
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toContain("belong to the SigmaHQ pack");
  });

  it("a low pack rule's match raises the host's risk but makes no alert; a medium one alerts", async () => {
    const quiet = await connect(ctl, "quiet-host");
    const signalsBefore = ctl.triage.alerts.stats.signals;
    await send(quiet, 1, [run(T0, "/usr/bin/curl", "curl -s https://example.org/")]);
    await settled(ctl);
    expect(ctl.triage.alerts.stats.signals).toBe(signalsBefore + 1);
    const none = await request(ctl, "GET", "/api/v1/alerts?agent=quiet-host");
    expect(none.body.items).toEqual([]);
    const risk = await request(ctl, "GET", "/api/v1/entities?kind=host");
    const host = risk.body.items.find((e: any) => e.value === "quiet-host");
    expect(host?.risk).toBeGreaterThan(0);

    const loud = await connect(ctl, "loud-host");
    await send(loud, 1, [run(T0, "/usr/bin/crontab", "crontab -r")]);
    await settled(ctl);
    const got = await request(ctl, "GET", "/api/v1/alerts?agent=loud-host");
    expect(got.body.items.map((a: any) => a.rule.id)).toEqual([CRONTAB_REMOVAL]);
    quiet.close();
    loud.close();
  });
});

describe("VIGIL_SIGMAHQ_PACK", () => {
  it("off: only built-in and uploaded rules", async () => {
    const ctl = await startTestController({ env: { VIGIL_SIGMAHQ_PACK: "off" } });
    try {
      const r = await request(ctl, "GET", "/api/v1/rules");
      expect(r.body.items.length).toBeGreaterThan(0);
      expect(r.body.items.filter((x: any) => x.origin === "sigmahq")).toEqual([]);
      expect(ctl.detection.rules.pack).toBeUndefined();
    } finally {
      await ctl.stop();
    }
  });

  it("anything but on/off is a configuration error", async () => {
    await expect(startTestController({ env: { VIGIL_SIGMAHQ_PACK: "maybe" } })).rejects.toThrow(/VIGIL_SIGMAHQ_PACK: expected "on" or "off"/);
  });
});
