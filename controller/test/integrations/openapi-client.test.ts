import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";

const run = promisify(execFile);
const ROOT = resolve(__dirname, "../../..");
const BIN = (name: string) => join(ROOT, "node_modules/.bin", name);

/** A program a client author would write against the generated types: it must compile as is. */
const CLIENT = `
import type { components, paths } from "./api";

type Json<Op> = Op extends { content: { "application/json": infer B } } ? B : never;
type AlertPage = Json<paths["/api/v1/alerts"]["get"]["responses"][200]>;
type AlertQuery = NonNullable<paths["/api/v1/alerts"]["get"]["parameters"]["query"]>;
type CommandBody = Json<NonNullable<paths["/api/v1/agents/{id}/commands"]["post"]["requestBody"]>>;
type Command = Json<paths["/api/v1/agents/{id}/commands"]["post"]["responses"][202]>;

async function get<T>(base: string, key: string, path: string): Promise<T> {
  const res = await fetch(base + path, { headers: { authorization: "Bearer " + key } });
  return (await res.json()) as T;
}

export async function topAlert(base: string, key: string): Promise<number | undefined> {
  const query: AlertQuery = { minScore: 50, state: "new", sort: "score", limit: 10 };
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  const page = await get<AlertPage>(base, key, "/api/v1/alerts?" + qs.toString());
  const first = page.items[0];
  if (!first) return undefined;
  const score: number = first.score;
  const rule: string = first.rule.title;
  const level: "informational" | "low" | "medium" | "high" | "critical" = first.rule.level;
  const next: string | null = page.nextCursor;
  void rule; void level; void next;
  return score;
}

export async function kill(base: string, key: string, agent: string, pid: number): Promise<string> {
  const body: CommandBody = { type: "kill_process", params: { pid, startTimeMs: 1_700_000_000_000 }, ttlSeconds: 600 };
  const res = await fetch(base + "/api/v1/agents/" + encodeURIComponent(agent) + "/commands", { method: "POST", headers: { authorization: "Bearer " + key, "content-type": "application/json" }, body: JSON.stringify(body) });
  const command = (await res.json()) as Command;
  const state: components["schemas"]["Command"]["state"] = command.state;
  const finished: string | null = command.finishedAt;
  void finished;
  return command.id + " " + state;
}
`;

/** The same client getting types wrong: every line must be refused, or the document has gone untyped. */
const WRONG = `
import type { paths } from "./api";
type Json<Op> = Op extends { content: { "application/json": infer B } } ? B : never;
type AlertPage = Json<paths["/api/v1/alerts"]["get"]["responses"][200]>;
type CommandBody = Json<NonNullable<paths["/api/v1/agents/{id}/commands"]["post"]["requestBody"]>>;
type AlertQuery = NonNullable<paths["/api/v1/alerts"]["get"]["parameters"]["query"]>;
declare const page: AlertPage;
export const a: string = page.items[0]!.score;
export const b: CommandBody = { type: "format_disk" };
export const c: AlertQuery = { limit: "ten" };
export const d: AlertQuery = { state: "open" };
export const e: number = page.items[0]!.noSuchField;
export const f: CommandBody = { type: "kill_process", params: { pid: "1234" } };
`;

function diagnostics(dir: string, file: string): string[] {
  const program = ts.createProgram([join(dir, file)], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    skipLibCheck: false,
    types: [],
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file ? `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : ""} ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
}

describe("a TypeScript client generated from the served document (openapi-typescript)", () => {
  let ctl: TestController;
  let dir: string;

  beforeAll(async () => {
    ctl = await startTestController();
    dir = mkdtempSync(join(tmpdir(), "vigil-openapi-client-"));
    const res = await fetch(`${ctl.httpUrl}/api/docs/openapi.json`);
    expect(res.status).toBe(200);
    writeFileSync(join(dir, "openapi.json"), await res.text());
    await run(BIN("openapi-typescript"), [join(dir, "openapi.json"), "-o", join(dir, "api.d.ts")], { env: { ...process.env, NO_COLOR: "1" } });
  }, 120_000);
  afterAll(async () => {
    await ctl?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("type-checks a program that lists alerts, reads a score as a number and creates a command", () => {
    writeFileSync(join(dir, "client.ts"), CLIENT);
    expect(diagnostics(dir, "client.ts")).toEqual([]);
  }, 60_000);

  it("refuses the same program when it gets a type wrong (the document is not `unknown` everywhere)", () => {
    writeFileSync(join(dir, "wrong.ts"), WRONG);
    const errors = diagnostics(dir, "wrong.ts");
    // One error per wrong line (8-13), and none elsewhere; line 13 is a command's params typed by the command contract.
    expect(errors.map((e) => Number(/^wrong\.ts:(\d+)/.exec(e)?.[1]))).toEqual([8, 9, 10, 11, 12, 13]);
  }, 60_000);
});
