import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlaybookAlert } from "../../src/playbooks/action-params";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { waitFor } from "../support/wait";
import { TlsAgent } from "./tls-agent";
import { createToken, enrollAgent, type EnrolledAgent } from "./trust-fixture";

/**
 * Issue #10 class 9: an agent could make itself `critical` (Hello tags merged
 * into the tags guard rails read) and so dodge automatic isolation. Trust only
 * flows down: guard rails read the enrollment token's tags; Hello's are shown apart.
 */
const ISOLATE_PB = `
id: isolate-on-credential-access
name: Isolate on credential access
when:
  minScore: 50
  tags: [attack.credential_access]
actions:
  - type: isolate
approval: auto
`;

function alert(agentId: string): PlaybookAlert {
  return {
    id: randomUUID(), ruleId: "rule-1", ruleTitle: "Credential dumping", ruleTags: ["attack.credential_access"], score: 90,
    agentId, caseId: randomUUID(), entityKind: "host", entityValue: agentId, eventFields: [{}],
  };
}

function connect(ctl: TestController, who: EnrolledAgent, tags: string[]): TlsAgent {
  const a = new TlsAgent(ctl.grpcPort, ctl.security.trust.ca.certPem, who);
  a.stream.write({ msg: { $case: "hello", hello: { agentId: who.agentId, hostname: "h", os: "test", kernel: "", agentVersion: "test", ipAddresses: [], tags, bootTimeMs: 0, lastSeq: 0, arch: "", timeMs: Date.now() } } });
  return a;
}

describe("tags that guard rails read come from the controller's side only", () => {
  let ctl: TestController;
  const streams: TlsAgent[] = [];

  beforeAll(async () => {
    ctl = await startTestController({ mtls: true });
    expect((await request(ctl, "POST", "/api/v1/playbooks", { yaml: ISOLATE_PB })).status).toBe(201);
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    await ctl?.dispose();
  });

  it("an agent whose Hello claims `critical` is still isolated automatically, and the claim is shown apart", async () => {
    const liar = await enrollAgent(ctl, await createToken(ctl, { tags: ["web"] }));
    const s = connect(ctl, liar, ["critical", "prod"]);
    streams.push(s);
    await waitFor("welcome", () => s.welcomed());

    const view = (await ctl.get(`/api/v1/agents/${liar.agentId}`)).body;
    expect(view.tags).toEqual(["web"]);
    expect(view.selfReportedTags).toEqual(["critical", "prod"]);

    const decisions = await ctl.playbooks.onAlert(alert(liar.agentId));
    expect(decisions.map((d) => [d.actionType, d.state])).toEqual([["isolate", "issued"]]);
    await waitFor("the isolate command on the stream", () => s.received.some((m) => m.msg?.$case === "command" && m.msg.command.type === "isolate"));
  });

  it("an agent enrolled with a `critical` token is protected whatever its Hello says", async () => {
    const db = await enrollAgent(ctl, await createToken(ctl, { tags: ["critical"] }));
    const s = connect(ctl, db, []);
    streams.push(s);
    await waitFor("welcome", () => s.welcomed());
    const decisions = await ctl.playbooks.onAlert(alert(db.agentId));
    expect(decisions.map((d) => [d.actionType, d.state])).toEqual([["isolate", "pending"]]);
    expect(decisions[0].reason).toMatch(/tagged critical/);
  });
});
