import { describe, expect, it } from "vitest";
import { CONTROLLERS } from "../../src/app/app.module";
import { normalisePath } from "../../src/app/normalise-path";
import { routeTable } from "../../src/http/route-table";

const routes = routeTable(CONTROLLERS);
const norm = (p: string, method = "POST") => normalisePath(p, routes, method);

describe("normalisePath: one spelling per route", () => {
  it("fixed segments take their declared case; parameters keep theirs", () => {
    expect(norm("/API/V1/RULES")).toMatchObject({ ok: true, path: "/api/v1/rules" });
    expect(norm("/Api/V1/rules/AbC-Rule/DISABLE")).toMatchObject({ ok: true, path: "/api/v1/rules/AbC-Rule/disable" });
    expect(norm("/api/v1/SUPPRESSIONS/MyId", "DELETE")).toMatchObject({ ok: true, path: "/api/v1/suppressions/MyId" });
    // A parameter that happens to spell a fixed word elsewhere stays as sent.
    expect(norm("/api/v1/rules/STATS/enable")).toMatchObject({ ok: true, path: "/api/v1/rules/STATS/enable" });
    expect(norm("/api/v1/rules/STATS", "GET")).toMatchObject({ ok: true, path: "/api/v1/rules/stats" });
  });

  it("decodes %-escapes of unreserved characters only, collapses //, keeps one trailing /", () => {
    expect(norm("/api/v1/%69ocs/%49mport")).toMatchObject({ ok: true, path: "/api/v1/iocs/import" });
    expect(norm("//api///v1//iocs")).toMatchObject({ ok: true, path: "/api/v1/iocs" });
    expect(norm("/api/v1/iocs/")).toMatchObject({ ok: true, path: "/api/v1/iocs/" });
    expect(norm("/api/v1/suppressions/a%20b", "DELETE")).toMatchObject({ ok: true, path: "/api/v1/suppressions/a%20b" });
    expect(norm("/api/v1/suppressions/a%3ab", "DELETE")).toMatchObject({ ok: true, path: "/api/v1/suppressions/a%3Ab" });
  });

  it("refuses what could mean two things", () => {
    for (const p of [
      "/api/v1/rules/../iocs",
      "/api/v1/./rules",
      "/api/v1/rules%2Fx",
      "/api/v1/rules%2fx",
      "/api/v1/rules%5Cx",
      "/api\\v1/rules",
      "/api/v1/%2e%2e/rules",
      "/api/v1/rules/%zz",
      "/api/v1/rules/%4",
    ]) {
      expect(norm(p).ok, p).toBe(false);
    }
    expect(norm("api/v1/rules").ok).toBe(false);
  });

  it("paths outside the route table are normalised but not re-cased", () => {
    expect(norm("/API/DOCS//openapi.json", "GET")).toMatchObject({ ok: true, path: "/API/DOCS/openapi.json" });
  });
});
