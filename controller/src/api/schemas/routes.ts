import { ALERT_STATES } from "../../database/entities/alert.entity";
import { ENTITY_KINDS } from "../../risk/entity-risk-service";
import { DELIVERY_STATES } from "../../database/entities/webhook.entities";
import { COMMAND_STATES, PLAYBOOK_ACTION_STATES } from "./response.schemas";
import { arr, bool, int, list, obj, oneOfStr, open, ref, str, type Schema } from "./schema";

/** What one operation takes and answers, beyond what its controller's decorators say. */
export interface RouteSchemas {
  /** The success body as JSON, or by media type for text and binary answers. */
  ok?: Schema | { media: Record<string, Schema> };
  /** Query parameters by name (types, enums, bounds). */
  query?: Record<string, Schema>;
  /** Path parameters by name; `id` is a string of at most 128 characters unless given. */
  path?: Record<string, Schema>;
  /** The request body: JSON, or by media type. */
  body?: Schema | { media: Record<string, Schema>; required?: boolean };
}

const time = (description: string) => str({ description: `${description}; ISO 8601 or epoch milliseconds`, example: "2026-01-31T12:00:00Z" });
const limit = (max: number, dflt: number) => int({ minimum: 1, maximum: max, default: dflt });
const cursor = str({ maxLength: 200, description: "nextCursor from the previous page" });
const score = int({ minimum: 0, maximum: 100 });
const agentId = str({ maxLength: 128, pattern: "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$" });
const yamlText = str({ description: "Sigma YAML", maxLength: 1048576 });
const deleted = (what: Schema) => obj({ deleted: what });

// Playbooks are sent as JSON {yaml}: the controller declares text/yaml too, but no body parser
// reads a text/yaml playbook (it answers 400), so the document does not offer it.

/**
 * Every route's schemas, keyed "method path" as in the document. The OpenAPI test fails on a
 * route served without an entry here, so a new route is described when it is added.
 */
export const ROUTES: Record<string, RouteSchemas> = {
  "get /api/v1/healthz": { ok: ref("Health") },
  "get /api/v1/agents": { ok: list(ref("Agent")) },
  "get /api/v1/agents/{id}": { ok: ref("Agent") },
  "put /api/v1/agents/{id}/tags": { ok: ref("Agent"), body: obj({ tags: arr(str({ pattern: "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$" }), { maxItems: 32 }) }) },
  "get /api/v1/agents/{id}/inventory": { ok: ref("AgentInventory") },
  "post /api/v1/agents/{id}/inventory/refresh": { ok: obj({ requested: bool() }) },
  "get /api/v1/events": {
    ok: list(ref("Event"), true),
    query: {
      agent: agentId,
      type: oneOfStr(["process", "file", "network", "auth", "agent", "audit", "log", "dns"]),
      since: time("event time, inclusive"),
      until: time("event time, exclusive"),
      q: str({ maxLength: 256 }),
      seq: str({ maxLength: 1700, pattern: "^\\s*\\d{1,16}\\s*(,\\s*\\d{1,16}\\s*){0,99}$", description: "comma-separated sequence numbers (at most 100; needs agent)", example: "12,13,40" }),
      limit: limit(1000, 100),
      cursor: str({ maxLength: 128, description: "nextCursor from the previous page" }),
    },
  },
  "post /api/v1/agents/{id}/commands": { ok: ref("Command"), body: ref("CommandRequest") },
  "post /api/v1/agents/{id}/isolate": { ok: ref("Command"), body: { media: { "application/json": ref("IsolateRequest") }, required: false } },
  "post /api/v1/agents/{id}/release": { ok: ref("Command"), body: { media: { "application/json": ref("ReleaseRequest") }, required: false } },
  "get /api/v1/commands": { ok: list(ref("Command")), query: { agent: agentId, state: oneOfStr(COMMAND_STATES), case: str({ maxLength: 64 }), limit: limit(1000, 100) } },
  "get /api/v1/commands/{id}": { ok: ref("CommandDetail") },
  "post /api/v1/commands/{id}/undo": { ok: ref("Command") },
  "get /api/v1/playbooks": { ok: list(ref("Playbook")) },
  "post /api/v1/playbooks": { ok: ref("Playbook"), body: ref("PlaybookInput") },
  "get /api/v1/playbooks/{id}": { ok: ref("PlaybookDetail") },
  "put /api/v1/playbooks/{id}": { ok: ref("Playbook"), body: ref("PlaybookInput") },
  "delete /api/v1/playbooks/{id}": {},
  "get /api/v1/playbook-actions": {
    ok: list(ref("PlaybookAction")),
    query: { case: str({ maxLength: 64 }), alert: str({ maxLength: 64 }), state: oneOfStr(PLAYBOOK_ACTION_STATES), limit: limit(1000, 100) },
  },
  "post /api/v1/playbook-actions/{id}/approve": { ok: ref("PlaybookAction") },
  "post /api/v1/playbook-actions/{id}/reject": { ok: ref("PlaybookAction") },
  "get /api/v1/agent-policy": { ok: ref("AgentPolicy") },
  "put /api/v1/agent-policy": { ok: ref("AgentPolicy"), body: ref("AgentPolicySpec") },
  "post /api/v1/apikeys": { ok: ref("ApiKeyCreated"), body: ref("ApiKeyInput") },
  "get /api/v1/apikeys": { ok: list(ref("ApiKey")) },
  "delete /api/v1/apikeys/{id}": { ok: obj({ id: str(), revoked: bool() }) },
  "post /api/v1/enrollment-tokens": { ok: ref("EnrollmentTokenCreated"), body: ref("EnrollmentTokenInput") },
  "get /api/v1/enrollment-tokens": { ok: list(ref("EnrollmentToken")) },
  "post /api/v1/agents/{id}/revoke": { ok: ref("AgentRevoked"), body: { media: { "application/json": obj({ reason: str({ maxLength: 512 }) }, { optional: ["reason"] }) }, required: false } },
  "get /api/v1/trust/ca": { ok: ref("CaCertificate") },
  "get /api/v1/audit": {
    ok: list(ref("AuditRecord"), true),
    query: {
      action: str({ maxLength: 64 }),
      actor: str({ maxLength: 160 }),
      since: time("inclusive"),
      until: time("exclusive"),
      limit: limit(1000, 100),
      cursor: str({ pattern: "^\\d{1,15}$", description: "nextCursor from the previous page" }),
    },
  },
  "get /api/v1/audit/verify": { ok: ref("AuditVerify") },
  "get /api/v1/audit/export": { ok: { media: { "application/x-ndjson": str({ description: "one AuditRecord (JSON) per line, in chain order" }) } } },
  "get /api/v1/rules": { ok: list(ref("Rule")), query: { origin: oneOfStr(["builtin", "sigmahq", "uploaded"]), kind: oneOfStr(["detection", "correlation"]) } },
  "post /api/v1/rules": {
    ok: ref("RuleUploadResult"),
    query: { name: str({ maxLength: 255 }) },
    body: {
      media: {
        "text/yaml": yamlText,
        "application/yaml": yamlText,
        "text/plain": yamlText,
        "application/json": obj({ yaml: yamlText, name: str({ minLength: 1, maxLength: 255 }) }, { optional: ["name"] }),
      },
    },
  },
  "get /api/v1/rules/stats": { ok: ref("PipelineStats") },
  "get /api/v1/rules/{id}": { ok: ref("Rule") },
  "patch /api/v1/rules/{id}": { ok: ref("Rule"), body: obj({ enabled: bool() }) },
  "delete /api/v1/rules/{id}": { ok: deleted(arr(str(), { description: "ids of the rules removed with the file" })) },
  "post /api/v1/rules/{id}/enable": { ok: ref("Rule") },
  "post /api/v1/rules/{id}/disable": { ok: ref("Rule") },
  "get /api/v1/alerts": {
    ok: list(ref("Alert"), true),
    query: {
      minScore: score,
      rule: str({ maxLength: 128 }),
      agent: str({ maxLength: 128 }),
      entity: str({ maxLength: 300 }),
      state: oneOfStr(ALERT_STATES),
      since: time("last seen (event time) at or after"),
      until: time("last seen (event time) before"),
      case: str({ maxLength: 36 }),
      limit: limit(500, 50),
      cursor,
      sort: oneOfStr(["recent", "score"], { default: "recent" }),
    },
  },
  "get /api/v1/alerts/{id}": { ok: ref("AlertDetail") },
  "post /api/v1/alerts/{id}/ack": { ok: ref("Alert") },
  "post /api/v1/alerts/{id}/feedback": {
    ok: ref("AlertFeedbackResult"),
    body: obj(
      { verdict: oneOfStr(["true_positive", "false_positive"]), note: str({ maxLength: 4000 }), createSuppression: bool({ description: "false_positive only" }) },
      { optional: ["note", "createSuppression"] },
    ),
  },
  "get /api/v1/cases": { ok: list(ref("Case"), true), query: { state: oneOfStr(ALERT_STATES), minScore: score, limit: limit(500, 50), cursor } },
  "get /api/v1/cases/{id}": { ok: ref("CaseStory") },
  "post /api/v1/cases/{id}/title": { ok: ref("Case"), body: obj({ title: str({ minLength: 1, maxLength: 512 }) }) },
  "post /api/v1/cases/{id}/state": {
    ok: ref("Case"),
    body: obj({ state: oneOfStr(["acknowledged", "resolved"]), verdict: oneOfStr(["true_positive", "false_positive"], { description: "required to resolve" }) }, { optional: ["verdict"] }),
  },
  "get /api/v1/iocs": {
    ok: list(ref("Ioc"), true),
    query: {
      kind: oneOfStr(["ip", "cidr", "domain", "sha256"]),
      source: str({ maxLength: 255 }),
      limit: limit(1000, 100),
      cursor: str({ maxLength: 32, pattern: "^\\d+$", description: "nextCursor from the previous page" }),
    },
  },
  "post /api/v1/iocs": {
    ok: ref("IocImportResult"),
    query: { source: str({ maxLength: 255 }) },
    body: { oneOf: [arr(ref("IocInput")), obj({ items: arr(ref("IocInput")) })] },
  },
  "delete /api/v1/iocs": { ok: deleted(int({ description: "indicators removed" })), query: { source: str({ minLength: 1, maxLength: 255 }) } },
  "post /api/v1/iocs/import": {
    ok: ref("IocImportResult"),
    query: { source: str({ maxLength: 255 }), format: oneOfStr(["auto", "csv", "list"], { default: "auto" }) },
    body: { media: { "text/csv": str(), "text/plain": str(), "application/json": open("a STIX 2.1 bundle (type: bundle)"), "application/stix+json": open("a STIX 2.1 bundle") } },
  },
  "delete /api/v1/iocs/{id}": { ok: deleted(str()), path: { id: str({ pattern: "^\\d+$" }) } },
  "get /api/v1/suppressions": { ok: list(ref("Suppression")) },
  "post /api/v1/suppressions": { ok: ref("Suppression"), body: ref("SuppressionInput") },
  "get /api/v1/suppressions/{id}": { ok: ref("Suppression") },
  "delete /api/v1/suppressions/{id}": { ok: deleted(str()) },
  "get /api/v1/entities": { ok: list(ref("EntityRisk")), query: { sort: oneOfStr(["risk", "value"], { default: "risk" }), kind: oneOfStr(ENTITY_KINDS), minRisk: score, limit: limit(1000, 100) } },
  "get /install.sh": { ok: { media: { "text/x-shellscript": str({ description: "the installer script" }) } } },
  "get /api/v1/agent/binary": { ok: { media: { "application/octet-stream": str({ format: "binary", description: "the agent executable; its SHA-256 in X-Vigil-Sha256" }) } } },
  "get /api/v1/agent/binary.sha256": { ok: { media: { "text/plain": str({ description: "<sha256>  vigil-agent" }) } } },
  "post /api/v1/webhooks": { ok: ref("WebhookCreated"), body: ref("WebhookInput") },
  "get /api/v1/webhooks": { ok: list(ref("Webhook")) },
  "get /api/v1/webhooks/{id}": { ok: ref("Webhook") },
  "patch /api/v1/webhooks/{id}": { ok: ref("Webhook"), body: ref("WebhookPatch") },
  "delete /api/v1/webhooks/{id}": {},
  "post /api/v1/webhooks/{id}/test": { ok: obj({ queued: int() }) },
  "get /api/v1/webhooks/{id}/deliveries": { ok: list(ref("WebhookDelivery")), query: { state: oneOfStr(DELIVERY_STATES), limit: limit(1000, 100) } },
  "get /api/v1/webhooks/{id}/dead-letters": { ok: list(ref("WebhookDelivery")), query: { limit: limit(1000, 100) } },
  "post /api/v1/webhooks/{id}/dead-letters/retry": { ok: obj({ requeued: int() }) },
  "post /api/v1/webhooks/{id}/dead-letters/{deliveryId}/retry": { ok: obj({ requeued: int() }), path: { deliveryId: str({ pattern: "^\\d{1,15}$" }) } },
  "get /metrics": { ok: { media: { "text/plain": str({ description: "Prometheus text exposition format 0.0.4" }) } } },
};
