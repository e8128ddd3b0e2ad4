import { readFileSync } from "node:fs";
import { hostname, release } from "node:os";
import { describe, expect, it } from "vitest";
import { collectHostFacts, parseOsRelease } from "../../../src/platform/linux";

describe("host facts", () => {
  it("describes this host from os-release, the os module and /proc/stat", async () => {
    const facts = await collectHostFacts();
    expect(facts.hostname).toBe(hostname());
    expect(facts.kernel).toBe(release());
    expect(facts.os).toBe(parseOsRelease(readFileSync("/etc/os-release", "utf8"))["PRETTY_NAME"]);
    expect(facts.ipAddresses).not.toContain("127.0.0.1");
    expect(facts.ipAddresses).not.toContain("::1");
    const btime = Number(/^btime (\d+)/m.exec(readFileSync("/proc/stat", "utf8"))![1]) * 1000;
    expect(facts.bootTimeMs).toBe(btime);
  });

  it("parses quoted and escaped os-release values", () => {
    expect(parseOsRelease('PRETTY_NAME="Foo \\"Bar\\" 1"\nID=foo\n# comment\nBAD LINE\n')).toEqual({ PRETTY_NAME: 'Foo "Bar" 1', ID: "foo" });
  });
});
