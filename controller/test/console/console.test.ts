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

// The page.evaluate / waitForFunction / addInitScript callbacks run in the browser. The test program
// has no DOM lib (it would retype Node's globals for every other file), so the few browser globals
// those callbacks touch are declared here.
declare const sessionStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
declare const localStorage: object;
declare const location: { href: string };
declare const document: { activeElement: { tagName: string; getAttribute(name: string): string | null } | null };

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

  it("opens the case: score breakdowns, timeline, evidence, and an approval that blocks the attacker", async () => {
    await page.getByRole("link", { name: "SSH Brute Force Followed By Successful Login" }).click();
    await page.getByRole("heading", { name: "Alerts and why they scored" }).waitFor();
    expect(page.url()).toContain(`#/cases/${world.caseId}`);
    // Every factor of the top alert's breakdown is on screen, with its points.
    const story = (await request(ctl, "GET", `/api/v1/cases/${world.caseId}`)).body;
    const top = story.alerts.find((a: { id: string }) => a.id === world.topAlertId);
    const card = page.locator(`#alert-${world.topAlertId}`);
    for (const f of top.breakdown as Array<{ factor: string; points: number }>) {
      await card.locator("tr", { hasText: f.factor }).filter({ hasText: String(Math.abs(f.points)) }).first().waitFor();
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

  it("produced no page errors", () => {
    expect(b.problems).toEqual([]);
  });
});
