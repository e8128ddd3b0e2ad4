import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkLayers, findCycles, importSpecifiers, persistenceOutside } from "../arch/import-graph";
import { AGENT, CONTROLLER, CONTROLLER_PERSISTENCE, type PackageLayers } from "../arch/layers";

const repoRoot = resolve(__dirname, "../..");

describe("the checker (on a synthetic tree)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-layers-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(dir, "src", path)), { recursive: true });
    writeFileSync(join(dir, "src", path), text);
  };
  const pkg: PackageLayers = {
    root: "src",
    layers: [
      { name: "low", members: ["low", "version.ts"] },
      { name: "high", members: ["high"] },
    ],
  };

  it("reads type imports, re-exports and literal dynamic imports, not comments", () => {
    const specs = importSpecifiers(
      [
        `import type { A } from "./a";`,
        `export { B } from "./b";`,
        `export * from "./c";`,
        `const d = await import("./d");`,
        `// import { e } from "./e";`,
        `const s = "import { f } from './f'";`,
      ].join("\n"),
    );
    expect(specs).toEqual(["./a", "./b", "./c", "./d"]);
  });

  it("names each upward import, unplaced folder, dangling import and file cycle", () => {
    write("version.ts", `export const V = 1;\n`);
    write("low/a.ts", `import type { H } from "../high/h";\nimport { V } from "../version";\nexport const A = V;\n`);
    write("low/b.ts", `export { C } from "./c";\nexport const B = 1;\n`);
    write("low/c.ts", `import { B } from "./b";\nexport const C = B;\n`);
    write("high/h.ts", `import { A } from "../low/a";\nexport type H = typeof A;\nexport const lazy = () => import("../stray/s");\n`);
    write("stray/s.ts", `import "./missing";\nexport {};\n`);
    const report = checkLayers(dir, pkg);
    expect(report.upward).toEqual(["low/a.ts (low) -> high/h.ts (high)"]);
    expect(report.unplaced).toEqual(["stray"]);
    expect(report.unresolved).toEqual(["stray/s.ts: ./missing"]);
    expect(report.cycles).toEqual(["high/h.ts -> low/a.ts -> high/h.ts", "low/b.ts -> low/c.ts -> low/b.ts"]);
  });

  it("reports a longer cycle once, starting from its smallest file", () => {
    const cycles = findCycles([
      { from: "c", to: "a" },
      { from: "a", to: "b" },
      { from: "b", to: "c" },
      { from: "b", to: "d" },
    ]);
    expect(cycles).toEqual(["a -> b -> c -> a"]);
  });

  it("finds TypeORM imports and SQL statements outside the persistence folder, not SQL words in prose", () => {
    write("db/repo.ts", `import type { DataSource } from "typeorm";\nexport const q = "SELECT id FROM t";\n`);
    write("svc/typed.ts", `import type { Repository } from "typeorm";\nexport type R = Repository<object>;\n`);
    write("svc/raw.ts", `export const s = \`UPDATE alerts SET state = ? WHERE id = ?\`;\n`);
    write("svc/prose.ts", `// Select the rows to update, then insert into the list.\nexport const n = 1;\n`);
    expect(persistenceOutside(dir, pkg, "db").filter((f) => f.startsWith("svc/"))).toEqual(["svc/raw.ts", "svc/typed.ts"]);
  });

  it("refuses a folder listed in two layers", () => {
    const twice: PackageLayers = {
      root: "src",
      layers: [
        { name: "x", members: ["low"] },
        { name: "y", members: ["low"] },
      ],
    };
    expect(() => checkLayers(dir, twice)).toThrow(/listed in two layers/);
  });
});

describe.each([CONTROLLER, AGENT])("$root", (pkg) => {
  const report = checkLayers(repoRoot, pkg);

  it("places every top-level folder in a layer", () => {
    expect(report.unplaced).toEqual([]);
  });

  it("resolves every relative import", () => {
    expect(report.unresolved).toEqual([]);
  });

  it("has no import from a lower layer to a higher one", () => {
    expect(report.upward).toEqual([]);
  });

  it("has no import cycle between files", () => {
    expect(report.cycles).toEqual([]);
  });
});

describe("controller persistence", () => {
  const outside = persistenceOutside(repoRoot, CONTROLLER, CONTROLLER_PERSISTENCE.home).filter((f) => !CONTROLLER_PERSISTENCE.compositionRoots.some((root) => f.startsWith(`${root}/`)));

  it("no file outside database/ (and the composition roots app/, cli/) imports TypeORM or writes SQL", () => {
    expect(outside.filter((f) => !CONTROLLER_PERSISTENCE.pending.includes(f))).toEqual([]);
  });

  it("the list of files still to move behind a repository only shrinks", () => {
    expect(CONTROLLER_PERSISTENCE.pending.filter((f) => !outside.includes(f))).toEqual([]);
  });
});
