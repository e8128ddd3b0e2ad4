import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { processCmdline } from "../../src/platform/linux/processes";

describe("process command lines in evidence", () => {
  it("redact a Vigil enrollment token read from /proc", async () => {
    const token = `vet_00112233445566ff_${"Q".repeat(43)}`;
    const child = spawn("sh", ["-c", "sleep 30; true", "sh", "--token", token], { stdio: "ignore", detached: true });
    try {
      // Wait until the child has exec'd sh (its cmdline holds the token).
      for (let i = 0; i < 200 && !readFileSync(`/proc/${child.pid}/cmdline`, "utf8").includes("--token"); i++) await new Promise((r) => setTimeout(r, 10));
      expect(readFileSync(`/proc/${child.pid}/cmdline`, "utf8")).toContain(token);
      expect(processCmdline(child.pid!)).toBe("sh -c sleep 30; true sh --token vet_00112233445566ff_[REDACTED]");
    } finally {
      process.kill(-child.pid!, "SIGKILL");
    }
  });
});
