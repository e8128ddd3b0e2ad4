import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, NestPinoLogger } from "../../src/logging/logger";

function sink(): { stream: Writable; lines: () => Array<{ level: number; msg: string; context?: string }> } {
  let text = "";
  const stream = new Writable({ write: (chunk, _enc, cb) => ((text += chunk.toString()), cb()) });
  return {
    stream,
    lines: () =>
      text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}

describe("Nest's start-up narration is debug, everything else keeps its level", () => {
  it("route and module lines only at debug", () => {
    const info = sink();
    const nest = new NestPinoLogger(createLogger("info", info.stream));
    nest.log("Mapped {/api/v1/events, GET} route", "RouterExplorer");
    nest.log("AppModule dependencies initialized", "InstanceLoader");
    nest.log("Nest application successfully started", "NestApplication");
    nest.log("something an admin should see", "AgentRegistry");
    nest.warn("a warning", "RouterExplorer");
    expect(info.lines().map((l) => l.msg)).toEqual(["something an admin should see", "a warning"]);
    const debug = sink();
    new NestPinoLogger(createLogger("debug", debug.stream)).log("Mapped {/api/v1/events, GET} route", "RouterExplorer");
    expect(debug.lines()[0]).toMatchObject({ msg: "Mapped {/api/v1/events, GET} route", context: "RouterExplorer", level: 20 });
  });
});
