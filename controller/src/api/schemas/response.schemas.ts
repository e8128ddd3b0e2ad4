import { COMMAND_SCHEMAS, COMMAND_TYPES } from "../../commands/command-params";
import { WEBHOOK_TOPICS } from "../../integrations/notices";
import { DELIVERY_STATES, WEBHOOK_FORMATS } from "../../database/entities/webhook.entities";
import type { SchemaObject } from "@nestjs/swagger";
import { LOCAL_POLICY_TYPES, commandParamsJsonSchema } from "@vigil/proto";
import { anyJson, arr, bool, int, nullable, obj, oneOfStr, open, str, time, type Schema } from "./schema";

export const COMMAND_STATES = ["queued", "sent", "succeeded", "failed", "refused", "expired", "not_enforced"] as const;
export const PLAYBOOK_ACTION_STATES = ["issued", "pending", "approved", "rejected", "refused", "skipped"] as const;
/** The actions a local policy may take, from the one command contract. */
const LOCAL_ACTIONS = LOCAL_POLICY_TYPES;
/** A request's params: one of the command types' own schemas (closed objects with their limits), from the one command contract. */
const typedParams = (description: string): SchemaObject => ({
  description,
  anyOf: COMMAND_TYPES.map((t) => commandParamsJsonSchema(t) as SchemaObject),
});

/** Each command type's parameters, read from the controller's own checks (commands/command-params.ts). */
const paramsDoc = COMMAND_TYPES.map((t) => {
  const s = COMMAND_SCHEMAS[t]!;
  const req = Object.keys(s.required);
  const opt = Object.keys(s.optional);
  return `${t}: ${[...req, ...opt.map((o) => `${o}?`)].join(", ") || "(none)"}${s.oneOf ? ` (at least one of ${s.oneOf.join(", ")})` : ""}`;
}).join("; ");

const COMMAND_PROPS = {
  id: str({ format: "uuid" }),
  agentId: str(),
  type: oneOfStr(COMMAND_TYPES),
  params: open(`the command's parameters by type: ${paramsDoc}`),
  state: oneOfStr(COMMAND_STATES),
  issuedAt: nullable(time()),
  expiresAt: nullable(time()),
  sentAt: nullable(time()),
  finishedAt: nullable(time()),
  requestedBy: str(),
  caseId: nullable(str()),
  alertId: nullable(str()),
  local: bool({ description: "taken by the agent's local policy, reported afterwards" }),
  reason: str({ description: "why it failed or was refused; empty otherwise" }),
  output: anyJson("what the agent returned (evidence only for analyst and admin keys)"),
  outputRedacted: str(),
  payloadSha256: str({ description: "hash of the signed payload the agent verified" }),
  undoOf: nullable(str()),
};

const WEBHOOK_SPEC = {
  name: str({ maxLength: 128 }),
  url: str({ format: "uri", description: "http(s) receiver; for pagerduty defaults to the Events API v2 endpoint" }),
  format: oneOfStr(WEBHOOK_FORMATS, { default: "generic" }),
  topics: arr(oneOfStr(WEBHOOK_TOPICS), { default: ["alerts", "cases"] }),
  minScore: int({ minimum: 0, maximum: 100, default: 0, description: "alerts, cases and notify below this score are not sent" }),
  ruleTags: arr(str(), { description: "only alerts (and notify) whose rule has one of these tags" }),
  enabled: bool({ default: true }),
  secret: str({ minLength: 16, maxLength: 256, description: "HMAC-SHA256 signing secret; generated and returned once when omitted on create" }),
  routingKey: str({ maxLength: 256, description: "PagerDuty integration (routing) key; required for format pagerduty; never returned" }),
};
const WEBHOOK_PROPS = {
  id: str({ format: "uuid" }),
  name: str(),
  url: str({ description: "secrets in it shortened (Slack URLs, query strings)" }),
  format: oneOfStr(WEBHOOK_FORMATS),
  topics: arr(oneOfStr(WEBHOOK_TOPICS)),
  minScore: int({ minimum: 0, maximum: 100 }),
  ruleTags: arr(str()),
  enabled: bool(),
  secretHint: nullable(str()),
  routingKeyHint: nullable(str()),
  createdAt: time(),
  updatedAt: time(),
  createdBy: str(),
};
const PLAYBOOK_PROPS = {
  id: str(),
  name: str(),
  version: int({ minimum: 1 }),
  enabled: bool(),
  approval: oneOfStr(["auto", "analyst"]),
  when: open("minScore, rules, tags, entityKinds, agentTags"),
  actions: arr(obj({ type: oneOfStr(COMMAND_TYPES), params: open() })),
  yaml: str(),
  createdAt: time(),
  updatedAt: time(),
};

/** Commands, playbooks, local policy and webhooks: the response side. */
export const RESPONSE_SCHEMAS: Record<string, Schema> = {
  Command: obj(COMMAND_PROPS, { optional: ["output", "outputRedacted"] }),
  CommandDetail: obj(
    { ...COMMAND_PROPS, history: arr(obj({ time: time(), step: str({ example: "requested" }), detail: anyJson() }), { description: "the action log" }) },
    { optional: ["output", "outputRedacted"] },
  ),
  CommandRequest: obj(
    {
      type: oneOfStr(COMMAND_TYPES),
      params: typedParams(`parameters by type: ${paramsDoc}`),
      ttlSeconds: int({ minimum: 1, maximum: 604800 }),
      caseId: str({ maxLength: 64, pattern: "^[A-Za-z0-9._:-]+$" }),
    },
    { optional: ["params", "ttlSeconds", "caseId"] },
  ),
  IsolateRequest: obj(
    {
      allowCidrs: arr(str(), { description: "also reachable while isolated" }),
      reason: str(),
      ttlSeconds: int({ minimum: 1, maximum: 604800 }),
      caseId: str({ maxLength: 64, pattern: "^[A-Za-z0-9._:-]+$" }),
    },
    { optional: ["allowCidrs", "reason", "ttlSeconds", "caseId"] },
  ),
  ReleaseRequest: obj(
    { reason: str(), ttlSeconds: int({ minimum: 1, maximum: 604800 }), caseId: str({ maxLength: 64, pattern: "^[A-Za-z0-9._:-]+$" }) },
    { optional: ["reason", "ttlSeconds", "caseId"] },
  ),
  Playbook: obj(PLAYBOOK_PROPS),
  PlaybookDetail: obj({ ...PLAYBOOK_PROPS, versions: arr(obj({ version: int(), createdAt: time(), createdBy: str() })) }),
  PlaybookInput: obj({ yaml: str({ description: "playbook YAML: id, name, enabled, when {minScore, rules, tags, entityKinds, agentTags}, actions [{type, params}], approval auto|analyst" }) }),
  PlaybookAction: obj({
    id: str(),
    playbookId: str(),
    playbookVersion: int(),
    alertId: nullable(str()),
    caseId: nullable(str()),
    agentId: str(),
    type: oneOfStr(COMMAND_TYPES),
    params: open(),
    state: oneOfStr(PLAYBOOK_ACTION_STATES),
    reason: nullable(str()),
    commandId: nullable(str()),
    createdAt: time(),
    decidedAt: nullable(time()),
    decidedBy: nullable(str()),
  }),
  AgentPolicySpec: obj(
    {
      rules: arr(obj({ id: str(), yaml: str() }, { optional: ["yaml"] }), { description: "built-in rules by id, or uploaded Sigma YAML" }),
      includeIocs: bool({ description: "ship the IOC lists so agents match them offline" }),
      actions: arr(obj({ ruleId: str(), actions: arr(obj({ type: oneOfStr(LOCAL_ACTIONS), params: open() }, { optional: ["params"] })) })),
    },
    { optional: ["rules", "includeIocs", "actions"] },
  ),
  AgentPolicy: obj(
    {
      version: int({ description: "0 before the first PUT" }),
      rules: arr(obj({ id: str(), yaml: str() }, { optional: ["yaml"] })),
      includeIocs: bool(),
      actions: arr(obj({ ruleId: str(), actions: arr(obj({ type: oneOfStr(LOCAL_ACTIONS), params: open() }, { optional: ["params"] })) })),
      updatedAt: nullable(time()),
      updatedBy: nullable(str()),
      delivery: nullable(
        obj({
          bytes: int(),
          messages: int(),
          sha256: str(),
          iocs: nullable(obj({ catalog: int(), shipped: int(), leftOut: int(), limitedBy: nullable(oneOfStr(["count", "bytes"])), selection: str() })),
        }),
      ),
    },
    { optional: ["updatedAt", "updatedBy", "delivery"] },
  ),
  WebhookInput: obj(WEBHOOK_SPEC, { optional: ["url", "format", "topics", "minScore", "ruleTags", "enabled", "secret", "routingKey"] }),
  WebhookPatch: obj(WEBHOOK_SPEC, { optional: Object.keys(WEBHOOK_SPEC) }),
  Webhook: obj(WEBHOOK_PROPS),
  WebhookCreated: obj({ ...WEBHOOK_PROPS, secret: str({ description: "the generated signing secret; shown in this response only" }) }, { optional: ["secret"] }),
  WebhookDelivery: obj({
    id: int(),
    destinationId: str(),
    topic: oneOfStr(WEBHOOK_TOPICS),
    type: str({ example: "alert.created" }),
    state: oneOfStr(DELIVERY_STATES),
    attempts: int(),
    nextAttemptAt: nullable(time()),
    lastStatus: nullable(int()),
    lastError: nullable(str()),
    createdAt: time(),
    updatedAt: time(),
    notice: open("the notice as sent"),
  }),
};
