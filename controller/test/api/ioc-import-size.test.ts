import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";

function bundle(n: number): string {
  const objects = Array.from({ length: n }, (_, i) => ({
    type: "indicator",
    spec_version: "2.1",
    id: `indicator--00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    created: "2024-01-01T00:00:00Z",
    modified: "2024-01-01T00:00:00Z",
    valid_from: "2024-01-01T00:00:00Z",
    pattern_type: "stix",
    pattern: `[ipv4-addr:value = '198.18.${Math.floor(i / 250)}.${i % 250}']`,
    description: "scanner seen by the community feed",
  }));
  return JSON.stringify({ type: "bundle", id: "bundle--11111111-1111-4111-8111-111111111111", objects });
}

describe("IOC import of a real-sized STIX bundle", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController();
  });
  afterAll(async () => ctl?.dispose());

  it("accepts a ~1 MB bundle posted as application/json", async () => {
    const body = bundle(3000);
    expect(body.length).toBeGreaterThan(500_000);
    const r = await request(ctl, "POST", "/api/v1/iocs/import", body);
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBeLessThan(300);
    const list = await request(ctl, "GET", "/api/v1/iocs?limit=1000");
    expect(list.body.items.length).toBe(1000);
  });
});
