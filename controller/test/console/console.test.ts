import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
// @ts-expect-error -- a plain ES module build script (no types); the test builds what it serves.
import { buildConsole } from "../../../scripts/build/console.mjs";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { waitFor } from "../support/wait";
import { clock, send, sshFailure } from "../detection/support";
import { openBrowser, type Browser } from "./browser";
import { seed, type Seeded } from "./seed";

// The README's screenshots are refreshed on request only, so a test run leaves the checkout clean.
const SHOTS = process.env.VIGIL_UPDATE_SCREENSHOTS === "1" ? join(__dirname, "..", "..", "..", "docs", "screenshots") : mkdtempSync(join(tmpdir(), "vigil-shots-"));

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

describe("web console in headless Chromium against the real controller", () => {
  let ctl: TestController;
  let key: string;
  let world: Seeded;
  let b: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await (buildConsole as (o: { quiet: boolean }) => Promise<string>)({ quiet: true });
    ctl = await startTestController({ detection: { reorderToleranceMs: 1_000, idleTickMs: 200 } });
    // The role the console is for: analysts work cases, isolate hosts and approve playbook actions.
    key = (await ctl.security.apiKeys.create("analyst", "on-call analyst", "test")).key;
    world = await seed(ctl);
    b = await openBrowser();
    page = b.page;
  });
  afterAll(async () => {
    await b?.close();
    world?.web.close();
    world?.db.close();
    world?.lab.close();
    await ctl?.dispose();
  });

  it("serves the console without a key, with a strict content security policy; the API still needs one", async () => {
    const root = await fetch(ctl.httpUrl + "/", { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/console/");
    const index = await fetch(ctl.httpUrl + "/console/");
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toMatch(/text\/html/);
    expect(index.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await index.text()).toContain('src="app.js"');
    const js = await fetch(ctl.httpUrl + "/console/app.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    expect((await fetch(ctl.httpUrl + "/console/%2e%2e/%2e%2e/package.json")).status).not.toBe(200);
    expect((await fetch(ctl.httpUrl + "/console/nope.js")).status).toBe(404);
    expect((await ctl.get("/api/v1/alerts", null)).status).toBe(401);
  });

  it("signs in with an API key kept in sessionStorage only", async () => {
    await page.goto(ctl.httpUrl + "/");
    await page.getByLabel("API key").fill("vk_bogus_key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "not valid" }).waitFor();
    b.problems.length = 0; // the browser logs the refused request; that one was the point
    await shot(page, "sign-in");

    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Alert queue" }).waitFor();
    const storage = await page.evaluate(() => ({ session: sessionStorage.getItem("vigil.apiKey"), local: JSON.stringify(localStorage), url: location.href }));
    expect(storage.session).toBe(key);
    expect(storage.local).not.toContain(key);
    expect(storage.url).not.toContain(key);
  });

  it("shows the seeded alerts, highest score first, with level badges, a chart and working filters", async () => {
    const rows = page.locator("table.alerts tbody tr");
    await rows.filter({ hasText: "SSH Brute Force Followed By Successful Login" }).waitFor();
    await rows.filter({ hasText: "SSH Brute Force From One Source" }).waitFor();
    const scores = (await page.locator("table.alerts tbody .score").allTextContents()).map(Number);
    expect(scores.length).toBeGreaterThanOrEqual(3);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(await rows.first().textContent()).toContain("SSH Brute Force Followed By Successful Login");
    await expect.poll(() => page.locator(".chart svg rect").count()).toBeGreaterThan(0);
    expect(await page.locator(".chart svg").getAttribute("aria-label")).toMatch(/alerts raised in the last 24 h: .*high/);
    await shot(page, "alerts");

    // Live: a new brute force on db-1 reaches the open queue without a reload.
    await page.locator(".live", { hasText: "Live" }).waitFor();
    const t = Date.now() - 5 * 60_000;
    world.db.seq = await send(world.db.agent, world.db.seq, [...Array.from({ length: 5 }, (_, i) => sshFailure(t + i * 10_000, "198.51.100.77", "postgres")), clock(Date.now())]);
    await rows.filter({ hasText: "198.51.100.77" }).waitFor();

    await page.getByLabel("Host").selectOption({ label: "db-1.prod" });
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.allTextContents()).toEqual([expect.stringContaining("db-1.prod"), expect.stringContaining("db-1.prod")]);
    expect(page.url()).toContain("agent=db-1");
    await page.getByLabel("Rule").selectOption({ label: "Execution From Temporary Directory Or Deleted File" });
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByRole("button", { name: "Clear filters" }).click();
    await rows.filter({ hasText: "SSH Brute Force Followed By Successful Login" }).waitFor();
    const top = (await page.locator("table.alerts tbody .score").first().textContent()) ?? "0";
    await page.getByLabel("Min score").fill(String(Number(top)));
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByRole("button", { name: "Clear filters" }).click();
  });

  it("opens an alert from its row: score reasons, the matched events with every field labelled, links on", async () => {
    // A click on the row (not on the title link) opens the alert view.
    await page.locator(`tr[data-alert="${world.topAlertId}"] td[data-label="Entity"]`).click();
    await page.getByRole("heading", { name: "SSH Brute Force Followed By Successful Login", level: 1 }).waitFor();
    expect(page.url()).toContain(`#/alerts/${world.topAlertId}`);
    const alert = (await request(ctl, "GET", `/api/v1/alerts/${world.topAlertId}`)).body;
    const why = page.locator("section", { has: page.getByRole("heading", { name: `Why it scored ${alert.score}` }) });
    for (const f of alert.breakdown as Array<{ factor: string; points: number }>) {
      await why
        .locator("tr", { hasText: f.factor })
        .filter({ hasText: String(Math.abs(f.points)) })
        .first()
        .waitFor();
    }
    // The matched events: every reference resolved to its stored event, the newest opened with its fields labelled.
    const matched = page.locator("details.matched");
    await expect.poll(() => matched.count()).toBe((alert.eventRefs as unknown[]).length);
    const newest = matched.first();
    expect(await newest.getAttribute("open")).not.toBeNull();
    const row = (label: string) => newest.locator(".field-row", { has: page.locator("dt", { hasText: new RegExp(`^${label}$`) }) }).locator("dd");
    expect(await row("Log line").textContent()).toBe("Accepted password for alice from 203.0.113.50");
    expect(await row("Source IP").textContent()).toBe("203.0.113.50");
    expect(await row("User").textContent()).toBe("alice");
    expect(await row("Action").textContent()).toBe("login_success");
    expect(await row("Host").textContent()).toContain("web-1.prod");
    // An older match opens on a click.
    const older = matched.nth(1);
    expect(await older.getAttribute("open")).toBeNull();
    await older.locator("summary").click();
    await older.locator(".field-row", { hasText: "Failed password for" }).waitFor();
    await older.locator("summary").click();
    // The ways on: the case, the host, and the host's events around the alert.
    expect(await page.getByRole("link", { name: "Open the case" }).getAttribute("href")).toBe(`#/cases/${world.caseId}?alert=${world.topAlertId}`);
    await shot(page, "alert", true);

    await page.getByRole("link", { name: "Host web-1.prod" }).click();
    await page.locator('tr[data-agent="web-1"].highlighted').waitFor();
    await page.goBack();
    await page.getByRole("link", { name: "Events on web-1.prod around this alert" }).click();
    await page.getByRole("heading", { name: "Events", level: 1 }).waitFor();
    const url = new URL(page.url().replace("#/", ""));
    expect(url.searchParams.get("agent")).toBe("web-1");
    expect(Date.parse(url.searchParams.get("since") ?? "")).toBeLessThan(Date.parse(alert.firstSeen));
    expect(Date.parse(url.searchParams.get("until") ?? "")).toBeGreaterThan(Date.parse(alert.lastSeen));
    const rows = page.locator("table.events tbody tr[data-event]");
    await rows.filter({ hasText: "alice from 203.0.113.50" }).first().waitFor();
    expect(new Set(await page.locator("table.events tbody td[data-label=Host]").allTextContents())).toEqual(new Set(["web-1.prod"]));
    // The brute force and the login that followed it, all on web-1 in that window; the login opened.
    await expect.poll(() => rows.filter({ hasText: "203.0.113.50" }).count()).toBe(8);
    await rows.filter({ hasText: "alice from 203.0.113.50:40001" }).getByRole("button").click();
    await page.locator("tr.detail-row .field-row", { hasText: "Accepted password for alice" }).waitFor();
    await shot(page, "events", true);
    await page.goBack();
    await page.getByRole("heading", { name: "SSH Brute Force Followed By Successful Login", level: 1 }).waitFor();
  });

  it("opens the case: score breakdowns, timeline, evidence, and an approval that blocks the attacker", async () => {
    await page.getByRole("link", { name: "Open the case" }).click();
    await page.getByRole("heading", { name: "Alerts and why they scored" }).waitFor();
    expect(page.url()).toContain(`#/cases/${world.caseId}`);
    // Every factor of the top alert's breakdown is on screen, with its points.
    const story = (await request(ctl, "GET", `/api/v1/cases/${world.caseId}`)).body;
    const top = story.alerts.find((a: { id: string }) => a.id === world.topAlertId);
    const card = page.locator(`#alert-${world.topAlertId}`);
    for (const f of top.breakdown as Array<{ factor: string; points: number }>) {
      await card
        .locator("tr", { hasText: f.factor })
        .filter({ hasText: String(Math.abs(f.points)) })
        .first()
        .waitFor();
    }
    await page.locator(".timeline li", { hasText: "Accepted password for alice" }).waitFor();
    expect(await page.locator(".timeline li .kind-auth, .timeline li .tl-kind", { hasText: "auth" }).count()).toBeGreaterThanOrEqual(5);
    await page.locator("#evidence-title ~ ul", { hasText: "sshd: alice@pts/1" }).waitFor();

    const approvals = page.locator("section.approvals");
    await approvals.getByText("block ip 203.0.113.50 on web-1.prod").waitFor();
    await shot(page, "case", true);
    await approvals.getByRole("button", { name: /^Approve/ }).click();
    await approvals.waitFor({ state: "detached" });
    // The approved block went to the agent, which answered; the result shows under response actions.
    await page.locator(".case-side .action", { hasText: "block ip" }).filter({ hasText: "succeeded" }).waitFor();
    const cmds = (await request(ctl, "GET", `/api/v1/commands?case=${world.caseId}`)).body.items;
    expect(cmds.find((c: { type: string }) => c.type === "block_ip")).toMatchObject({ state: "succeeded", params: { ip: "203.0.113.50" } });

    // Every automatic or approved containment can be undone from the case.
    const blockAction = page.locator(".case-side .action", { hasText: "block ip" }).filter({ hasText: "succeeded" }).first();
    await blockAction.getByRole("button", { name: /Undo/ }).click();
    await page.locator(".case-side .action", { hasText: "unblock ip" }).first().waitFor();
    const afterUndo = (await request(ctl, "GET", `/api/v1/commands?case=${world.caseId}`)).body.items;
    expect(afterUndo.find((c: { type: string }) => c.type === "unblock_ip")).toMatchObject({ params: { ip: "203.0.113.50" } });

    // Verdict: resolve the case as a true positive.
    await page.getByRole("button", { name: "Resolve: true positive" }).click();
    await page.locator(".case-header .badge", { hasText: "resolved · true positive" }).waitFor();
    expect((await request(ctl, "GET", `/api/v1/cases/${world.caseId}`)).body).toMatchObject({ state: "resolved", verdict: "true_positive" });
  });

  it("lists hosts with health, and isolates one after a confirmation, showing the agent's result", async () => {
    await page.getByRole("link", { name: "Hosts" }).click();
    const row = (id: string) => page.locator(`tr[data-agent="${id}"]`);
    await row("web-1").waitFor();
    await expect.poll(async () => (await row("build-7").textContent()) ?? "").toMatch(/offline/);
    expect(await row("build-7").textContent()).toMatch(/file down/);
    expect(await row("build-7").textContent()).toMatch(/1,?241 dropped/);
    expect(await row("web-1").textContent()).toMatch(/online.*not isolated.*0\.1\.0.*4\/4 running/);
    // Each host's process source, and what a fallback cannot see.
    expect(await row("web-1").textContent()).toMatch(/processes: kernel \(eBPF\)/);
    expect(await row("web-1").textContent()).not.toMatch(/misses/);
    expect(await row("db-1").textContent()).toMatch(/processes: auditd exec records · misses: process exits \(no exit code or duration\)/);
    expect(await row("lab-3").textContent()).toMatch(/processes: \/proc polling · misses: processes shorter than the 250 ms scan are missed/);
    await shot(page, "hosts");

    // Keyboard: Enter opens the confirmation, Escape cancels it and gives focus back.
    await row("db-1").getByRole("button", { name: "Isolate db-1.prod" }).focus();
    await page.keyboard.press("Enter");
    await page.getByRole("dialog", { name: "Isolate db-1.prod?" }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe("INPUT");
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
    await page.waitForFunction(() => document.activeElement?.getAttribute("aria-label") === "Isolate db-1.prod", undefined, { timeout: 5000 });

    await row("web-1").getByRole("button", { name: "Isolate web-1.prod" }).click();
    const dialog = page.getByRole("dialog", { name: "Isolate web-1.prod?" });
    await dialog.waitFor();
    await dialog.getByLabel(/Reason/).fill("confirmed account compromise from 203.0.113.50");
    await shot(page, "isolate-confirm");
    await dialog.getByRole("button", { name: "Isolate host" }).click();
    await dialog.waitFor({ state: "detached" });

    // The agent answers with a CommandResult, then reports itself isolated.
    await row("web-1").locator(".command-result", { hasText: "succeeded" }).waitFor();
    await row("web-1").locator(".badge.isolated").waitFor();
    await row("web-1").getByRole("button", { name: "Release web-1.prod" }).waitFor();
    await row("web-1").locator(".command-result summary", { hasText: "Output" }).click();
    await row("web-1").getByText("inet vigil_isolation").waitFor();
    await shot(page, "isolate-result");

    const issued = await waitFor("the isolate command", async () => (await request(ctl, "GET", "/api/v1/commands?agent=web-1")).body.items.find((c: { type: string }) => c.type === "isolate"));
    expect(issued).toMatchObject({ state: "succeeded", params: { reason: "confirmed account compromise from 203.0.113.50" } });
    expect(issued.requestedBy).toMatch(/^apikey:/);
    expect(world.web.status.isolated).toBe(true);

    // A monitor-mode host says so, and its isolate reads "not enforced (monitor)", never succeeded.
    expect(await row("lab-3").textContent()).toMatch(/not isolated.*monitor only/);
    expect(await row("web-1").locator(".enforcement-enforce").textContent()).toBe("enforcing");
    await row("lab-3").getByRole("button", { name: "Isolate lab-3.test" }).click();
    const labDialog = page.getByRole("dialog", { name: "Isolate lab-3.test?" });
    await labDialog.getByLabel(/Reason/).fill("trying the playbook on the lab host");
    await labDialog.getByRole("button", { name: "Isolate host" }).click();
    await row("lab-3").locator(".command-result .badge", { hasText: "not enforced (monitor)" }).waitFor();
    expect(await row("lab-3").locator(".command-result").textContent()).not.toMatch(/succeeded/i);
    await row("lab-3").getByRole("button", { name: "Isolate lab-3.test" }).waitFor();
    await shot(page, "hosts-monitor-mode");
  });

  it("searches events by text and host, with every field of a hit labelled", async () => {
    await page.getByRole("link", { name: "Events", exact: true }).click();
    await page.getByRole("heading", { name: "Events", level: 1 }).waitFor();
    const rows = page.locator("table.events tbody tr[data-event]");
    await rows.first().waitFor();
    const search = page.getByRole("search", { name: "Search events" });
    await search.getByLabel("Host").selectOption({ label: "db-1.prod" });
    await expect.poll(() => page.url()).toContain("agent=db-1");
    await search.getByLabel("Text").fill("KWORKERD");
    await search.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => page.url()).toContain("q=KWORKERD");
    // Exactly the one process event, found case-insensitively, on db-1 only.
    await expect.poll(async () => (await rows.allTextContents()).join("\n")).toContain("/tmp/.cache/kworkerd --run");
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator("td[data-label=Host]").textContent()).toBe("db-1.prod");
    expect(await rows.first().locator("td[data-label=User]").textContent()).toBe("postgres");
    await rows.first().getByRole("button", { name: "/tmp/.cache/kworkerd --run" }).click();
    const detail = page.locator("tr.detail-row .event-detail");
    const field = (label: string) => detail.locator(".field-row", { has: page.locator("dt", { hasText: new RegExp(`^${label}$`) }) }).locator("dd");
    expect(await field("Image").textContent()).toBe("/tmp/.cache/kworkerd");
    expect(await field("Command line").textContent()).toBe("/tmp/.cache/kworkerd --run");
    expect(await field("Process name").textContent()).toBe("kworkerd");
    expect(await field("Kind").textContent()).toBe("process · start");

    // The same text on another host finds nothing: the host filter holds.
    await search.getByLabel("Host").selectOption({ label: "web-1.prod" });
    await page.getByText("No events match this search").waitFor();
    // And a text search on the attacker's address finds each of its logins on web-1, nothing else.
    await search.getByLabel("Text").fill("203.0.113.50");
    await search.getByRole("button", { name: "Search" }).click();
    await expect.poll(() => rows.count()).toBe(8);
    for (const t of await rows.locator("th").allTextContents()) expect(t).toContain("203.0.113.50");
  });

  it("says 'not found' for an unknown route, with links on, instead of showing alerts", async () => {
    for (const path of ["#/nope", "#/alerts/x/y", "#/hosts/web-1"]) {
      await page.goto(`${ctl.httpUrl}/console/${path}`);
      await page.getByRole("heading", { name: "Page not found" }).waitFor();
      expect(await page.locator("table.alerts").count()).toBe(0);
      expect(await page.locator(".not-found code").textContent()).toBe(path);
    }
    await page.getByRole("link", { name: "Cases" }).last().click();
    await page.getByRole("heading", { name: "Cases", level: 1 }).waitFor();
    // A well-formed link to an alert that does not exist says so, from the API's 404 (in a page of
    // its own: the browser logs the 404, which is the point here, not a problem of the console).
    const p2 = await b.context.newPage();
    try {
      await p2.addInitScript((k) => sessionStorage.setItem("vigil.apiKey", k), key);
      await p2.goto(`${ctl.httpUrl}/console/#/alerts/00000000-0000-0000-0000-000000000000`);
      await p2.getByRole("alert").filter({ hasText: "no alert with id" }).waitFor();
    } finally {
      await p2.close();
    }
  });

  it("fits a 420 px wide screen: alerts, cases, hosts, events and the alert view, nothing cut off", async () => {
    const p2 = await b.context.newPage();
    try {
      await p2.setViewportSize({ width: 420, height: 900 });
      await p2.addInitScript((k) => sessionStorage.setItem("vigil.apiKey", k), key);
      /** Nothing wider than the screen, and every cell of `cells` inside it. */
      const fits = async (cells: string) => {
        const m = await p2.evaluate((sel) => {
          const vw = document.documentElement.clientWidth;
          const out = Array.from(document.querySelectorAll(sel))
            .map((el) => el.getBoundingClientRect())
            .filter((r) => r.width > 0 && (r.left < -0.5 || r.right > vw + 0.5));
          const scrollers = Array.from(document.querySelectorAll(".table-wrap")).filter((w) => w.scrollWidth > w.clientWidth + 1).length;
          return { vw, page: document.documentElement.scrollWidth, outside: out.length, cells: document.querySelectorAll(sel).length, scrollers };
        }, cells);
        expect(m.vw).toBeLessThanOrEqual(420);
        expect(m.page).toBeLessThanOrEqual(m.vw);
        expect(m.scrollers).toBe(0);
        expect(m.outside).toBe(0);
        return m.cells;
      };
      await p2.goto(ctl.httpUrl + "/console/#/alerts?state=all");
      const rows = p2.locator("table.alerts tbody tr");
      await rows.filter({ hasText: "SSH Brute Force Followed By Successful Login" }).waitFor();
      expect(await fits("table.alerts tbody td, table.alerts tbody th, table.alerts .score, table.alerts .badge")).toBeGreaterThan(8 * 3);
      // Every column is on screen for the top alert, each labelled, the key ones first.
      const labels = await rows
        .first()
        .locator("td, th")
        .evaluateAll((els) => els.map((el) => getComputedStyle(el, "::before").content));
      expect(labels.slice(0, 3)).toEqual(['"Score"', '"Level"', '"Alert"']);
      expect(labels).toHaveLength(8);
      await shot(p2, "narrow-alerts");

      await p2.goto(ctl.httpUrl + `/console/#/alerts/${world.topAlertId}`);
      await p2.locator("details.matched[open] .field-row").first().waitFor();
      await fits(".alert-view .panel, .alert-view .field-row dd, .alert-view .links a, table.breakdown td");
      await p2.goto(ctl.httpUrl + "/console/#/cases?state=all");
      await p2.locator("table.cases tbody tr").first().waitFor();
      await fits("table.cases tbody td, table.cases tbody th");
      await p2.goto(ctl.httpUrl + "/console/#/hosts");
      await p2.locator('tr[data-agent="web-1"]').waitFor();
      await fits("table.hosts tbody td, table.hosts tbody th, table.hosts button");
      await p2.goto(ctl.httpUrl + "/console/#/events?q=kworkerd");
      await p2.locator("table.events tbody tr[data-event]").first().waitFor();
      await p2.locator("table.events tbody tr[data-event] button.linkish").first().click();
      await p2.locator("tr.detail-row .field-row").first().waitFor();
      await fits("table.events tbody td, table.events tbody th, .event-detail dd, form.filters input, form.filters select");
      // The case page (one column under 1100 px) fits as well.
      await p2.goto(ctl.httpUrl + `/console/#/cases/${world.caseId}`);
      await p2.locator(".timeline li").first().waitFor();
      await fits(".case-header, .case .panel, .timeline li, .case-buttons button");
    } finally {
      await p2.close();
    }
  });

  it("falls back to polling when the live stream is unavailable, and still shows new alerts", async () => {
    const p2 = await b.context.newPage();
    try {
      // A proxy that drops websocket upgrades, as some corporate proxies do.
      await p2.routeWebSocket(/\/api\/v1\/stream/, (ws) => ws.close({ code: 1011, reason: "blocked by the test" }));
      await p2.addInitScript((k) => sessionStorage.setItem("vigil.apiKey", k), key);
      await p2.goto(ctl.httpUrl + "/console/#/alerts?state=all");
      await p2.locator(".live", { hasText: "Polling" }).waitFor();
      const t = Date.now() - 4 * 60_000;
      world.db.seq = await send(world.db.agent, world.db.seq, [...Array.from({ length: 5 }, (_, i) => sshFailure(t + i * 10_000, "192.0.2.201", "backup")), clock(Date.now())]);
      await p2.locator("table.alerts tbody tr", { hasText: "192.0.2.201" }).waitFor({ timeout: 15_000 });
    } finally {
      await p2.close();
    }
  });

  it("says when an alert's events were deleted by retention, and shows the fields kept with the alert", async () => {
    // db-1's /tmp execution is the only event older than 2 h; retention removes it.
    const all = (await request(ctl, "GET", "/api/v1/alerts?agent=db-1&limit=50")).body.items as Array<{ id: string; eventRefs: Array<{ seq: number; timeMs: number }> }>;
    const old = all.find((a) => a.eventRefs.some((r) => r.timeMs < Date.now() - 2 * 3_600_000));
    expect(old).toBeDefined();
    expect(await ctl.store.deleteOlderThan(Date.now() - 2 * 3_600_000, 100)).toBe(1);
    await page.goto(`${ctl.httpUrl}/console/#/alerts/${old?.id}`);
    const notice = page.locator(".notice", { hasText: "1 referenced event is no longer stored (event retention)" });
    await notice.waitFor();
    expect(await notice.locator("pre").textContent()).toContain("/tmp/.cache/kworkerd");
    expect(await page.locator("details.matched").count()).toBe(0);
  });

  it("produced no page errors", () => {
    expect(b.problems).toEqual([]);
  });
});
