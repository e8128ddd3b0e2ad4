import type { ScoreFactor } from "@vigil/detection";
import type { AgentView } from "../../agents/agent-registry";
import type { AlertIocHit, EventRef } from "../../database/entities/alert.entity";
import type { TimelineEntry } from "../../cases/case-timeline";
import type { LabelledField } from "../../cases/event-fields";
import { anyJson, arr, bool, int, nullable, num, obj, oneOfStr, open, ref, str, time, typed, type Schema } from "./schema";

const STATES = ["new", "acknowledged", "resolved"] as const;
const VERDICTS = ["true_positive", "false_positive"] as const;
/** An entity; a host (whose value is its agent id) carries its hostname ("" when the agent is gone). */
const entityRef = obj({ kind: oneOfStr(["host", "user", "ip"]), value: str(), hostname: str() }, { optional: ["hostname"] });

const EVENT_REF = typed<EventRef>()({ agentId: str(), seq: int(), timeMs: int() });

const ALERT_PROPS = {
  id: str({ format: "uuid" }),
  rule: obj({ id: str(), title: str(), level: oneOfStr(["informational", "low", "medium", "high", "critical"]), tags: arr(str()) }),
  kind: oneOfStr(["detection", "correlation"]),
  correlationType: nullable(str()),
  agentId: str(),
  hostname: str(),
  entity: entityRef,
  entities: arr(entityRef, { description: "every entity the alert concerns, primary first" }),
  dedupKey: str(),
  score: int({ minimum: 0, maximum: 100 }),
  breakdown: arr(ref("ScoreFactor"), { description: "how the score was reached" }),
  count: int({ minimum: 1, description: "matches folded into this alert" }),
  firstSeen: time(),
  lastSeen: time(),
  createdAt: time(),
  updatedAt: time(),
  state: oneOfStr(STATES),
  verdict: nullable(oneOfStr(VERDICTS)),
  caseId: nullable(str()),
  groupBy: nullable(open("correlation group-by values")),
  iocHits: arr(ref("AlertIocHit")),
  eventRefs: arr(ref("EventRef"), { description: "where the evidence is stored (GET /api/v1/events): the first 40 and the newest 10 matches" }),
  newestEventRef: nullable({ ...EVENT_REF, description: "the newest match the alert holds" }),
  events: arr(open("one matched event in Sigma's field names"), { description: "the matched events' fields" }),
};

const CASE_PROPS = {
  id: str({ format: "uuid" }),
  title: str(),
  state: oneOfStr(STATES),
  verdict: nullable(oneOfStr(VERDICTS)),
  score: int({ minimum: 0, maximum: 100 }),
  entities: arr(entityRef),
  alertCount: int(),
  firstSeen: time(),
  lastSeen: time(),
  createdAt: time(),
  updatedAt: time(),
  resolvedBy: nullable(str()),
};

/** Agents, events, alerts and cases. */
export const TRIAGE_SCHEMAS: Record<string, Schema> = {
  ScoreFactor: typed<ScoreFactor>()({ factor: oneOfStr(["level", "ioc", "asset", "baseline", "chain", "feedback", "clamp"]), points: num(), detail: str() }),
  AlertIocHit: typed<AlertIocHit>()({ kind: str(), value: str(), confidence: int(), source: str() }),
  EventRef: EVENT_REF,
  Alert: obj(ALERT_PROPS),
  AlertDetail: obj({
    ...ALERT_PROPS,
    feedback: arr(obj({ verdict: oneOfStr(VERDICTS), note: nullable(str()), actor: str(), at: time(), suppressionId: nullable(str()) })),
  }),
  AlertFeedbackResult: obj(
    {
      alertId: str(),
      verdict: oneOfStr(VERDICTS),
      weight: num({ description: "the (rule, entity) weight after this verdict" }),
      suggestedSuppression: open("a suppression that would have silenced this alert (not created)"),
      createdSuppression: ref("Suppression"),
      recorded: obj({ id: str(), actor: str(), at: time() }),
    },
    { optional: ["suggestedSuppression", "createdSuppression"] },
  ),
  Case: obj(CASE_PROPS),
  TimelineEntry: typed<TimelineEntry>()(
    {
      time: time(),
      kind: str({ example: "event.auth" }),
      summary: str(),
      ref: open(),
      data: open(),
      fields: arr(typed<LabelledField>()({ label: str(), value: str() }), { description: "what the entry says, labelled per event kind" }),
    },
    { optional: ["ref", "data", "fields"] },
  ),
  CaseStory: obj(
    {
      ...CASE_PROPS,
      alertIds: arr(str()),
      alerts: arr(ref("Alert")),
      timeline: arr(ref("TimelineEntry")),
      actions: arr(ref("Command")),
      playbookDecisions: arr(ref("PlaybookAction")),
      pendingApprovals: arr(ref("PlaybookAction")),
      evidence: arr(obj({ commandId: str(), agentId: str(), collectedAt: nullable(time()), output: anyJson("what collect_evidence returned") }), {
        description: "only for keys that may read evidence (analyst, admin)",
      }),
    },
    { optional: ["playbookDecisions"] },
  ),
  Agent: typed<AgentView>()({
    id: str(),
    hostname: str(),
    os: str(),
    kernel: str(),
    arch: str(),
    agentVersion: str(),
    ipAddresses: arr(str()),
    tags: arr(str(), { description: "trusted tags (enrollment token or admin); guard rails and playbooks read these" }),
    selfReportedTags: arr(str(), { description: "what the agent claims; shown, never trusted" }),
    bootTime: nullable(time()),
    firstSeen: time(),
    lastSeen: time(),
    online: bool({ description: "connected and its telemetry being stored" }),
    connected: bool(),
    telemetry: oneOfStr(["ok", "refused", "stalled", "offline"]),
    telemetryReason: nullable(str()),
    clockOffsetMs: nullable(int({ description: "agent clock minus controller clock" })),
    offlineForMs: nullable(int()),
    isolated: nullable(bool()),
    enforcement: nullable(oneOfStr(["enforce", "monitor"])),
    ackedSeq: int(),
    lastSeq: int(),
    gaps: arr(arr(int(), { minItems: 2, maxItems: 2 }), { description: "[from, to] seq ranges never received" }),
    missingEvents: int(),
    status: open("the agent's last AgentStatus: sensors, spool, drops"),
  }),
  AgentInventory: obj({ agentId: str(), collectedAt: time(), receivedAt: time(), reason: str(), inventory: open("OS, kernel, CPU, memory, disks, interfaces, users, listening ports, packages") }),
  Event: obj(
    {
      id: str({ description: "numeric id, as a string" }),
      agentId: str(),
      seq: int(),
      type: oneOfStr(["process", "file", "network", "auth", "agent", "audit", "log", "dns"]),
      action: str(),
      eventTime: time({ description: "when it happened on the host (the receive time when the host clock was not trusted)" }),
      receivedAt: time(),
      reportedTime: time({ description: "present when the host's clock was not trusted: the time it reported" }),
      clockSkewMs: int(),
      process: open(),
      file: open(),
      network: open(),
      auth: open(),
      agent: open(),
      audit: open(),
      log: open(),
    },
    { optional: ["reportedTime", "clockSkewMs", "process", "file", "network", "auth", "agent", "audit", "log", "dns"], description: "one telemetry event; the body is under the key named by type" },
  ),
};
