import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveWatchRoots } from "../../../src/sensors/file";

describe("watch roots", () => {
  const home = mkdtempSync(join(tmpdir(), "vigil-home-"));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it("expands /home/*/.ssh-style patterns, drops nested roots and lists what is absent", () => {
    mkdirSync(join(home, "alice", ".ssh"), { recursive: true });
    mkdirSync(join(home, "bob"), { recursive: true }); // no .ssh
    mkdirSync(join(home, "carol", ".ssh", "keys"), { recursive: true });
    const roots = resolveWatchRoots([join(home, "*", ".ssh"), join(home, "carol", ".ssh", "keys"), join(home, "nobody", ".ssh"), join(home, "*", ".gnupg")]);
    expect(roots.present).toEqual([join(home, "alice", ".ssh"), join(home, "carol", ".ssh")]);
    expect(roots.absent).toEqual([join(home, "nobody", ".ssh"), join(home, "*", ".gnupg")]);
    // Awaited: absent but in an existing directory (bob's .ssh could appear); not under a watched root; not in a missing directory.
    expect(roots.awaited).toEqual([join(home, "alice", ".gnupg"), join(home, "bob", ".gnupg"), join(home, "bob", ".ssh"), join(home, "carol", ".gnupg")]);
  });
});
