import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
// @ts-expect-error -- a plain ES module build script (no types); the test builds what it serves.
import { buildConsole } from "../../../scripts/build/console.mjs";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { waitFor } from "../support/wait";
import { clock, connection, EXEC_FROM_TMP, exec, send, settled, sshFailure, sshSuccess } from "../detection/support";
import { openBrowser, type Browser } from "./browser";
import { FakeHost } from "./fake-host";

const MIN = 60_000;
// Two cloned VMs, both called "vm": only their agent ids tell them apart.
const VM_A = "3f2a9c1e-5b7d-4e21-9a0f-111111111111";
const VM_B = "8b41d0aa-0c3e-4f7a-8d2b-222222222222";
const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d/;

interface ApiAlert {
  id: string;
  caseId: string;
  score: number;
  count: number;
  rule: { id: string; title: string };
  breakdown: Array<{ factor: string }>;
  newestEventRef: { agentId: string; seq: number } | null;
}

/**
 * Issue 14, as an analyst sees it in Chromium: hosts by name (disambiguated), a case title that
 * stays while the score rises, timeline events with labelled fields, "IOC" spelled so, one time
 * format, and the newest of 122 matched events one click from its alert.
 */
describe("console: readable alerts and cases (issue 14)", () => {
  let ctl: TestController;
  let b: Browser;
  let page: Page;
  let vmA: FakeHost;
  let vmB: FakeHost;
  let execA: ApiAlert;
  let newestSeq: number;

  beforeAll(async () => {
    await (buildConsole as (o: { quiet: boolean }) => Promise<string>)({ quiet: true });
    ctl = await startTestController({ detection: { reorderToleranceMs: 1_000, idleTickMs: 200 } });
    const key = (await ctl.security.apiKeys.create("analyst", "analyst", "test")).key;
    const ioc = await request(ctl, "POST", "/api/v1/iocs/import?source=test-feed", "type,value,confidence,description\nip,192.0.2.66,90,c2 server\n", { "content-type": "text/csv" });
    expect(ioc.status).toBe(201);

    vmA = await FakeHost.connect(ctl.grpcPort, { agentId: VM_A, hostname: "vm", ip: "10.0.7.1" });
    vmB = await FakeHost.connect(ctl.grpcPort, { agentId: VM_B, hostname: "vm", ip: "10.0.7.2" });
    const now = Date.now();
    const t0 = now - 100 * MIN;
    // vm·3f2a: /tmp/x runs 122 times (one alert, which opens the case), then a brute force that
    // ends in a login and a connection to a known C2 address join it with higher scores.
    const runs = Array.from({ length: 122 }, (_, i) => exec(t0 + i * 8_000, "/tmp/x", "root"));
    const first = vmA.seq;
    newestSeq = first + 121;
    const ip = "203.0.113.77";
    const fails = Array.from({ length: 6 }, (_, i) => sshFailure(now - 60 * MIN + i * 20_000, ip, "alice"));
    vmA.seq = await send(vmA.agent, vmA.seq, [...runs, ...fails, sshSuccess(now - 55 * MIN, ip, "alice"), connection(now - 50 * MIN, "192.0.2.66"), clock(now - 1000)]);
    vmB.seq = await send(vmB.agent, vmB.seq, [exec(now - 30 * MIN, "/tmp/y", "root"), clock(now - 1000)]);
    await settled(ctl);
    const items = await waitFor("vm·3f2a's alerts", async () => {
      const r = await request(ctl, "GET", `/api/v1/alerts?agent=${VM_A}`);
      const got = r.body.items as ApiAlert[] | undefined;
      return got && got.length >= 4 && got.some((a) => a.breakdown.some((f) => f.factor === "ioc")) ? got : undefined;
    });
    execA = items.find((a) => a.rule.id === EXEC_FROM_TMP)!;
    expect(execA.count).toBe(122);
    expect(execA.newestEventRef?.seq).toBe(newestSeq);

    b = await openBrowser();
    page = b.page;
    await page.addInitScript((k) => sessionStorage.setItem("vigil.apiKey", k), key);
  });
  afterAll(async () => {
    await b?.close();
    vmA?.close();
    vmB?.close();
    await ctl?.dispose();
  });

  it("alert rows name hosts, and two hosts called vm read 'vm · 3f2a' and 'vm · 8b41' with the agent id on hover", async () => {
    await page.goto(ctl.httpUrl + "/console/#/alerts?state=all");
    const rows = page.locator("table.alerts tbody tr");
    const rowA = rows.filter({ hasText: "Execution From Temporary Directory" }).filter({ hasText: "vm · 3f2a" });
    const rowB = rows.filter({ hasText: "Execution From Temporary Directory" }).filter({ hasText: "vm · 8b41" });
    await rowA.waitFor();
    await rowB.waitFor();
    expect(await rowA.locator("td.host").textContent()).toBe("vm · 3f2a");
    expect(await rowA.locator("td.host .host-name").getAttribute("title")).toBe(`agent ${VM_A}`);
    // The host entity reads by name too; no agent id is printed anywhere in the queue.
    expect(await rowA.locator(".entity").textContent()).toBe("host vm · 3f2a");
    expect(await page.locator("table.alerts").textContent()).not.toContain(VM_A);
    expect(await page.locator("table.alerts").textContent()).not.toContain(VM_B);
    // Relative ages show the local time and the exact instant on hover.
    expect(await rowA.locator("time").getAttribute("title")).toMatch(ISO);
  });

  it("the case keeps its title while its score rises; the header names the host; the chain names rules by title", async () => {
    await page.goto(ctl.httpUrl + `/console/#/cases/${execA.caseId}`);
    await page.getByRole("heading", { name: "Alerts and why they scored" }).waitFor();
    const story = (await request(ctl, "GET", `/api/v1/cases/${execA.caseId}`)).body as { score: number; alerts: ApiAlert[] };
    expect(story.alerts.length).toBeGreaterThanOrEqual(4);
    expect(story.score).toBeGreaterThan(execA.score); // a higher-scoring alert joined ...
    expect(await page.locator("#case-title").textContent()).toBe("Execution From Temporary Directory Or Deleted File on vm"); // ... the title stayed
    expect(Number(await page.locator(".case-header .score").first().textContent())).toBe(story.score);

    const chips = page.locator(".case-header .chips");
    await chips.locator(".host-name", { hasText: "vm · 3f2a" }).waitFor();
    expect(await chips.textContent()).not.toContain(VM_A);
    // Header times: local with the zone, ISO on hover.
    const firstSeen = page.locator(".case-header .meta time").first();
    expect(await firstSeen.getAttribute("title")).toMatch(/Z$/);
    expect(await firstSeen.textContent()).not.toMatch(ISO);

    const chain = page.locator(".alert-card .breakdown tr", { has: page.locator('th[data-factor="chain"]') }).first();
    await chain.waitFor();
    expect(await chain.textContent()).toContain("Execution From Temporary Directory Or Deleted File");
    expect(await chain.textContent()).toContain("host vm");
    expect(await chain.textContent()).not.toContain("545f0eb8");
    expect(await chain.textContent()).not.toContain(VM_A);

    // Each alert card's title leads to that alert's own view (matched events, verdicts).
    const firstCard = story.alerts[0]!;
    const titleLink = page.locator(`#alert-title-${firstCard.id} a`);
    expect(await titleLink.getAttribute("href")).toBe(`#/alerts/${firstCard.id}`);
  });

  it("factors are labelled in words: IOC, not Ioc", async () => {
    const ioc = page.locator('.alert-card .breakdown th[data-factor="ioc"]').first();
    await ioc.waitFor();
    expect(await ioc.textContent()).toBe("IOC");
    expect(await ioc.evaluate((el) => getComputedStyle(el).textTransform)).toBe("none");
    const labels = await page.locator(".alert-card .breakdown tbody th.factor").allTextContents();
    expect(labels).toContain("Rule level");
    for (const l of labels) expect(l).toMatch(/^[A-Z]/);
  });

  it("timeline events show labelled fields per kind, under a day heading that names the time zone", async () => {
    const run = page.locator(".timeline li", { hasText: "process start: /tmp/x" }).first();
    await run.waitFor();
    const field = (li: typeof run, label: string) => li.locator(".tl-field", { has: page.locator(`dt:text-is("${label}")`) }).locator("dd");
    expect(await field(run, "Image").textContent()).toBe("/tmp/x");
    expect(await field(run, "Command line").textContent()).toBe("/tmp/x --run");
    expect(await field(run, "PID").textContent()).toBe("999");
    expect(await field(run, "User").textContent()).toBe("root (uid 33)");
    expect(await field(run, "Parent PID").textContent()).toBe("1");
    const login = page.locator(".timeline li", { hasText: "auth login_success" }).first();
    expect(await field(login, "Source").textContent()).toBe("203.0.113.77:40001");
    expect(await field(login, "User").textContent()).toBe("alice");
    expect(await page.locator(".timeline .tl-day").first().textContent()).toMatch(/times in \S+/);
    // One time format: no ISO instant printed in the timeline text (only on hover).
    const visible = await page.locator(".timeline").evaluate((el) =>
      [...el.querySelectorAll("li")]
        .map((li) =>
          [...li.childNodes]
            .filter((n) => !(n instanceof HTMLDetailsElement) && !(n instanceof Element && n.querySelector("details")))
            .map((n) => n.textContent)
            .join(" "),
        )
        .join("\n"),
    );
    expect(visible).not.toMatch(ISO);
    expect(await page.locator(".timeline time").first().getAttribute("title")).toMatch(/Z$/);
  });

  it("the newest of 122 matched events is one click from its alert, and is in the case timeline", async () => {
    const card = page.locator(`#alert-${execA.id}`);
    const newest = card.locator("button.newest-event");
    await newest.waitFor();
    expect(await newest.textContent()).toContain(`#${newestSeq}`);
    expect(await card.locator(".alert-events summary").textContent()).toContain("the first and the newest of 122 matches");
    await newest.click();
    const entry = page.locator(`li#ev-${VM_A}-${newestSeq}`);
    await entry.waitFor();
    await expect.poll(() => entry.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await entry.textContent()).toContain("/tmp/x");
    expect(await entry.isVisible()).toBe(true);
  });

  it("an analyst renames the case; the new title holds when another alert joins", async () => {
    await page.getByRole("button", { name: "Rename case" }).click();
    await page.getByLabel("Case title").fill("Cryptominer dropped on vm · 3f2a");
    await page.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.locator("#case-title").textContent()).toBe("Cryptominer dropped on vm · 3f2a");
    // Another alert on the host joins the case: detection leaves the analyst's title alone.
    const before = (await request(ctl, "GET", `/api/v1/cases/${execA.caseId}`)).body as { alertCount: number };
    vmA.seq = await send(vmA.agent, vmA.seq, [exec(Date.now() - 5 * MIN, "/tmp/z", "root"), clock(Date.now() - 500)]);
    await settled(ctl);
    await waitFor("the new alert in the case", async () => ((await request(ctl, "GET", `/api/v1/cases/${execA.caseId}`)).body.alertCount as number) > before.alertCount);
    await page.reload();
    await page.getByRole("heading", { name: "Alerts and why they scored" }).waitFor();
    expect(await page.locator("#case-title").textContent()).toBe("Cryptominer dropped on vm · 3f2a");
    expect((await request(ctl, "GET", `/api/v1/cases/${execA.caseId}`)).body.title).toBe("Cryptominer dropped on vm · 3f2a");
  });

  it("a verdict given on the alert view is recorded, and shows on the case's alert card", async () => {
    await page.goto(ctl.httpUrl + `/console/#/alerts/${execA.id}`);
    const fp = page.locator(".verdict-row").getByRole("button", { name: "False positive" });
    await fp.waitFor();
    expect(await fp.getAttribute("aria-pressed")).not.toBe("true");
    await fp.click();
    await expect.poll(() => fp.getAttribute("aria-pressed")).toBe("true");
    expect((await request(ctl, "GET", `/api/v1/alerts/${execA.id}`)).body).toMatchObject({ verdict: "false_positive" });
    // The same verdict, pressed, on the case page's card for this alert.
    await page.goto(ctl.httpUrl + `/console/#/cases/${execA.caseId}`);
    const onCard = page.locator(`#alert-${execA.id} .verdict-row`).getByRole("button", { name: "False positive" });
    await expect.poll(() => onCard.getAttribute("aria-pressed")).toBe("true");
  });

  it("produced no page errors", () => {
    expect(b.problems).toEqual([]);
  });
});
