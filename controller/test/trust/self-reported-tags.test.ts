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
    id: randomUUID(),
    ruleId: "rule-1",
    ruleTitle: "Credential dumping",
    ruleTags: ["attack.credential_access"],
    score: 90,
    agentId,
    caseId: randomUUID(),
    entityKind: "host",
    entityValue: agentId,
    eventFields: [{}],
  };
}

function connect(ctl: TestController, who: EnrolledAgent, tags: string[]): TlsAgent {
  const a = new TlsAgent(ctl.grpcPort, ctl.security.trust.ca.certPem, who);
  a.stream.write({
    msg: {
      $case: "hello",
      hello: { agentId: who.agentId, hostname: "h", os: "test", kernel: "", agentVersion: "test", ipAddresses: [], tags, bootTimeMs: 0, lastSeq: 0, arch: "", timeMs: Date.now() },
    },
  });
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

  it("the admin API can make it critical; an analyst cannot; a reconnecting Hello does not undo it", async () => {
    const host = await enrollAgent(ctl, await createToken(ctl, { tags: ["web"] }));
    let s = connect(ctl, host, []);
    streams.push(s);
    await waitFor("welcome", () => s.welcomed());
    const analyst = (await ctl.security.apiKeys.create("analyst", "tags-analyst", "test")).key;
    expect((await request(ctl, "PUT", `/api/v1/agents/${host.agentId}/tags`, { tags: ["critical"] }, { authorization: `Bearer ${analyst}` })).status).toBe(403);
    expect((await request(ctl, "PUT", `/api/v1/agents/${host.agentId}/tags`, { tags: ["bad tag!"] })).status).toBe(400);
    const set = await request(ctl, "PUT", `/api/v1/agents/${host.agentId}/tags`, { tags: ["critical", "db"] });
    expect(set.status).toBe(200);
    expect(set.body.tags).toEqual(["critical", "db"]);
    const audit = await ctl.get(`/api/v1/audit?action=agent.tags_set`);
    expect(audit.body.items[0]).toMatchObject({ target: `agent:${host.agentId}` });

    s.close();
    s = connect(ctl, host, ["not-critical"]);
    streams.push(s);
    await waitFor("welcome again", () => s.welcomed());
    const view = await waitFor("self-reported tags updated", async () => {
      const v = (await ctl.get(`/api/v1/agents/${host.agentId}`)).body;
      return v.selfReportedTags?.[0] === "not-critical" ? v : undefined;
    });
    expect(view.tags).toEqual(["critical", "db"]);
    const decisions = await ctl.playbooks.onAlert(alert(host.agentId));
    expect(decisions.map((d) => [d.actionType, d.state])).toEqual([["isolate", "pending"]]);
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
