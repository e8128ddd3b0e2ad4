import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AgentMessage, Event, MAX_MESSAGE_BYTES } from "@vigil/proto";

const root = join(__dirname, "..", "..");

describe("wire contract", () => {
  it("committed generated code matches the .proto files", () => {
    // Fails (non-zero exit) when someone edits a .proto without `npm run proto`.
    const out = execFileSync("node", [join(root, "scripts/build/gen-proto.mjs"), "--check"], { cwd: root, encoding: "utf8" });
    expect(out).toContain("up to date");
  });

  it("round-trips an event batch with a typed body", () => {
    const msg: AgentMessage = {
      msg: {
        $case: "events",
        events: {
          firstSeq: 7,
          events: [
            Event.fromPartial({
              seq: 7,
              eventTimeMs: 1_700_000_000_123,
              body: {
                $case: "process",
                process: {
                  action: 1,
                  pid: 42,
                  ppid: 1,
                  exe: "/usr/bin/x",
                  commandLine: "x --y",
                  user: "root",
                  uid: 0,
                  cwd: "/",
                  startTimeMs: 1,
                  sha256: "ab",
                  parentExe: "",
                  parentCommandLine: "",
                  name: "x",
                  exeDeleted: false,
                  exitCode: 0,
                },
              },
            }),
          ],
        },
      },
    };
    const bytes = AgentMessage.encode(msg).finish();
    expect(bytes.length).toBeLessThan(MAX_MESSAGE_BYTES);
    const back = AgentMessage.decode(bytes);
    expect(back.msg?.$case).toBe("events");
    if (back.msg?.$case !== "events") throw new Error("unreachable");
    expect(back.msg.events.events[0].body).toEqual(msg.msg?.$case === "events" ? msg.msg.events.events[0].body : undefined);
  });
});
