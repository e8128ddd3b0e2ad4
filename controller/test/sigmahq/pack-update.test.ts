import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startController } from "../../src/app/bootstrap";
import { loadConfig } from "../../src/config/config";
import { createLogger } from "../../src/logging/logger";
import { loadSigmahqPack } from "../../src/sigmahq/pack";
import { rule, tarGz, zip } from "./archive-fixtures";

const ROOT = resolve(__dirname, "../../..");
const BIN = join(ROOT, "controller/bin/vigil-controller.js");
const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, VIGIL_LOG_LEVEL: "error" } });

const GOOD_PROC = rule("Good Process Rule", "    sel:\n        Image|endswith: '/evil'\n    condition: sel");
const GOOD_LONG = rule("Good Rule Under A Long Name", "    sel:\n        CommandLine|contains: 'long-name-marker'\n    condition: sel", "low");
const BROKEN = rule("Broken Rule", "    sel:\n        Image|nosuchmodifier: x\n    condition: sel");
const WINDOWS = rule("Windows Rule", "    sel:\n        Image|endswith: '\\\\cmd.exe'\n    condition: sel");
const LONG_NAME = `process_creation/${"x".repeat(110)}.yml`;

/** The repository tarball's layout: a top folder named after the commit. */
function repoTarball(): Buffer {
  return tarGz([
    { name: "sigma-0123abc/", type: "5" },
    { name: "sigma-0123abc/rules/linux/process_creation/proc_good.yml", data: GOOD_PROC },
    { name: `sigma-0123abc/rules/linux/${LONG_NAME}`, data: GOOD_LONG },
    { name: "sigma-0123abc/rules/linux/file_event/broken.yml", data: BROKEN },
    { name: "sigma-0123abc/rules/windows/process_creation/win.yml", data: WINDOWS },
    { name: "sigma-0123abc/deprecated/linux/old.yml", data: GOOD_PROC },
    { name: "sigma-0123abc/rules/linux/process_creation/huge.yml", data: Buffer.alloc(1024 * 1024 + 1, 0x61) },
    { name: "sigma-0123abc/rules/linux/process_creation/link.yml", type: "2", link: "/etc/shadow" },
    { name: "sigma-0123abc/README.md", data: "# sigma\n" },
    // A repeated name, and a folder where a file already is: refused, nothing overwritten.
    { name: "sigma-0123abc/rules/linux/process_creation/proc_good.yml", data: BROKEN },
    { name: "sigma-0123abc/rules/linux/process_creation/proc_good.yml/inner.yml", data: GOOD_PROC },
  ]);
}

describe("vigil-controller rules update --from <SigmaHQ archive>", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-pack-"));
  const dataDir = join(dir, "data");
  const packDir = join(dataDir, "sigmahq-pack");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes rules/linux/** from a repository tarball, compiles each, lists the refusals and writes the pack (0600 files, 0700 folders)", () => {
    const archive = join(dir, "sigma-0123abc.tar.gz");
    writeFileSync(archive, repoTarball());
    const r = run(["rules", "update", "--from", archive, "--data-dir", dataDir]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.filter((l) => l.startsWith("refused: ")).sort()).toEqual([
      expect.stringMatching(/^refused: file_event\/broken\.yml: .*nosuchmodifier/),
      "refused: process_creation/huge.yml: 1048577 bytes, larger than 1048576",
      "refused: process_creation/link.yml: a link, not a file",
      "refused: process_creation/proc_good.yml/inner.yml: a second entry for the same path",
      "refused: process_creation/proc_good.yml: a second entry for the same path",
    ]);
    expect(lines.at(-1)).toMatch(/^SigmaHQ pack sigma-0123abc: 2 rule files \(2 rules\) written to .*sigmahq-pack, 5 refused/);

    const manifest = JSON.parse(readFileSync(join(packDir, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({ pack: "sigmahq-linux", version: "sigma-0123abc", count: 2, compiled: 2, source: { archive: "sigma-0123abc.tar.gz", license: "DRL-1.1" } });
    expect(manifest.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.refused).toHaveLength(5);
    expect(readFileSync(join(packDir, "rules/process_creation/proc_good.yml"), "utf8")).toBe(GOOD_PROC);
    expect(readFileSync(join(packDir, "rules", LONG_NAME), "utf8")).toBe(GOOD_LONG);
    expect(existsSync(join(packDir, "rules/file_event/broken.yml"))).toBe(false);
    expect(statSync(join(packDir, "manifest.json")).mode & 0o777).toBe(0o600);
    expect(statSync(join(packDir, "rules/process_creation/proc_good.yml")).mode & 0o777).toBe(0o600);
    expect(statSync(join(packDir, "rules/process_creation")).mode & 0o777).toBe(0o700);

    // The controller takes this pack over the bundled one.
    const pack = loadSigmahqPack({ dataDir });
    expect(pack.origin).toBe("data-dir");
    expect(pack.manifest.version).toBe("sigma-0123abc");
    expect(pack.rules.map((x) => x.name).sort()).toEqual([LONG_NAME, "process_creation/proc_good.yml"].sort());
  });

  it("a SigmaHQ release .zip replaces the previous pack whole", () => {
    const archive = join(dir, "sigma_core.zip");
    writeFileSync(
      archive,
      zip([
        { name: "rules/linux/network_connection/net_good.yml", data: GOOD_PROC.replace("process_creation", "network_connection") },
        { name: "rules/linux/process_creation/broken.yml", data: BROKEN },
        { name: "rules/linux/process_creation/lnk.yml", type: "2", data: "/etc/passwd" },
        { name: "rules/windows/x.yml", data: WINDOWS },
      ]),
    );
    const r = run(["rules", "update", "--from", archive, "--data-dir", dataDir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("refused: process_creation/lnk.yml: a link, not a file");
    expect(r.stdout).toMatch(/SigmaHQ pack sigma_core: 1 rule files \(1 rules\) written/);
    expect(readdirSync(join(packDir, "rules"))).toEqual(["network_connection"]);
    expect(readdirSync(dataDir).sort()).toEqual(["sigmahq-pack"]);
  });

  describe("hostile archives are refused whole and leave the pack in force untouched", () => {
    const marker = `vigil-traversal-${process.pid}`;
    const before = () => JSON.parse(readFileSync(join(packDir, "manifest.json"), "utf8")).version;

    const attacks: [string, string, Buffer, RegExp][] = [
      [
        "tar.gz with ../ climbing out of rules/linux",
        "evil.tar.gz",
        tarGz([
          { name: "sigma-x/rules/linux/process_creation/ok.yml", data: GOOD_PROC },
          { name: `sigma-x/rules/linux/../../../../../../tmp/${marker}/evil.yml`, data: GOOD_PROC },
        ]),
        /"\.\." in the path \(path traversal\); archive refused/,
      ],
      ["tar.gz with an absolute entry", "abs.tar.gz", tarGz([{ name: `/tmp/${marker}/rules/linux/abs.yml`, data: GOOD_PROC }]), /absolute or backslashed path \(path traversal\)/],
      [
        "tar.gz whose GNU long name hides the ..",
        "long.tar.gz",
        tarGz([
          {
            name: `rules/linux/${"a/".repeat(60)}../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../tmp/${marker}.yml`,
            data: GOOD_PROC,
          },
        ]),
        /path traversal/,
      ],
      ["zip with ..\\ (Windows separators)", "bs.zip", zip([{ name: `rules\\linux\\..\\..\\..\\tmp\\${marker}.yml`, data: GOOD_PROC }]), /absolute or backslashed path/],
      [
        "zip with ../",
        "dots.zip",
        zip([
          { name: "rules/linux/ok.yml", data: GOOD_PROC },
          { name: `rules/linux/../../../tmp/${marker}.yml`, data: GOOD_PROC },
        ]),
        /path traversal/,
      ],
    ];
    for (const [what, file, data, why] of attacks) {
      it(what, () => {
        const version = before();
        const archive = join(dir, file);
        writeFileSync(archive, data);
        const r = run(["rules", "update", "--from", archive, "--data-dir", dataDir]);
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(why);
        expect(existsSync(`/tmp/${marker}`)).toBe(false);
        expect(existsSync(`/tmp/${marker}.yml`)).toBe(false);
        expect(before()).toBe(version);
      });
    }

    it("an archive over 200 MiB is refused before it is read", () => {
      const archive = join(dir, "big.tar.gz");
      const fd = openSync(archive, "w");
      writeSync(fd, Buffer.from([0x1f, 0x8b]));
      closeSync(fd);
      // Sparse: 200 MiB + 1 byte on disk in no time.
      spawnSync("truncate", ["-s", String(200 * 1024 * 1024 + 1), archive]);
      const r = run(["rules", "update", "--from", archive, "--data-dir", dataDir]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/209715201 bytes, larger than the 209715200-byte limit/);
    });

    it("a zip entry that inflates past 1 MiB is refused, the rest taken", () => {
      const archive = join(dir, "bomb.zip");
      const bomb = zip([
        { name: "rules/linux/process_creation/bomb.yml", data: Buffer.alloc(3 * 1024 * 1024, 0x20) },
        { name: "rules/linux/process_creation/ok.yml", data: GOOD_PROC },
      ]);
      // Lie about the size in the central directory, as a bomb would: the reader must not trust it.
      const cd = bomb.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
      bomb.writeUInt32LE(100, cd + 24);
      writeFileSync(archive, bomb);
      const r = run(["rules", "update", "--from", archive, "--data-dir", dataDir]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("refused: process_creation/bomb.yml: does not inflate within 1048576 bytes");
      expect(r.stdout).toMatch(/1 rule files \(1 rules\) written/);
    });

    it("an archive with no Linux rules leaves the pack unchanged", () => {
      const version = before();
      const archive = join(dir, "win.zip");
      writeFileSync(archive, zip([{ name: "rules/windows/x.yml", data: WINDOWS }]));
      const r = run(["rules", "update", "--from", archive, "--data-dir", dataDir]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/no rules\/linux\/\*\*\.yml in the archive/);
      expect(before()).toBe(version);
    });
  });

  it("a controller started on that data dir runs the updated pack instead of the bundled one", async () => {
    const config = loadConfig(
      { http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir, database: `sqlite:${join(dataDir, "vigil.db")}`, logLevel: "warn", insecureGrpc: true, insecureHttp: true },
      { ...process.env, VIGIL_SIGMAHQ_PACK: "on" },
    );
    const ctl = await startController(config, { logger: createLogger("error") });
    try {
      const { key } = await ctl.security.apiKeys.create("admin", "test admin", "test");
      const res = await fetch(`${ctl.httpUrl}/api/v1/rules?origin=sigmahq`, { headers: { authorization: `Bearer ${key}` } });
      const items = ((await res.json()) as { items: { title: string; source: string; alerts: boolean }[] }).items;
      // The last accepted update (bomb.zip) left one rule; none of the 147 bundled files is in force.
      expect(items.map((r) => [r.title, r.source, r.alerts])).toEqual([["Good Process Rule", "sigmahq/process_creation/ok.yml", true]]);
      expect(ctl.detection.rules.pack?.origin).toBe("data-dir");
    } finally {
      await ctl.stop();
    }
  });

  it("a data dir pack that is not a pack is an error at start, not a silent fallback", () => {
    const bad = join(dir, "bad-data");
    mkdirSync(join(bad, "sigmahq-pack", "rules"), { recursive: true });
    writeFileSync(join(bad, "sigmahq-pack", "manifest.json"), "[]");
    expect(() => loadSigmahqPack({ dataDir: bad })).toThrow(/not a pack manifest/);
  });
});
