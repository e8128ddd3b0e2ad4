import type { ImportResult, IocView } from "../../detection/ioc-catalog";
import type { DetectionStageMs, PipelineStats } from "../../detection/pipeline";
import type { RuleView } from "../../detection/rule-catalog";
import type { SuppressionView } from "../../alerts/suppression-service";
import type { EntityRiskView } from "../../risk/entity-risk-service";
import type { IocParseError, StixSkipped } from "@vigil/detection";
import type { SchemaObject } from "@nestjs/swagger";
import { arr, bool, int, nullable, num, obj, oneOfStr, open, ref, str, time, typed, type Schema } from "./schema";

const LEVELS = ["informational", "low", "medium", "high", "critical"] as const;
const CORRELATION_TYPES = ["event_count", "value_count", "temporal", "temporal_ordered", "value_sum", "value_avg", "value_percentile"] as const;

/** The API names a host entity (value: its agent id) by its hostname too. */
function withHostname(s: SchemaObject): SchemaObject {
  return { ...s, properties: { ...s.properties, hostname: str({ description: 'hosts only: the agent\'s hostname ("" when the agent is gone)' }) } };
}

/** Rules, IOCs, suppressions, entity risk: what detection exposes through the API. */
export const DETECTION_SCHEMAS: Record<string, Schema> = {
  Rule: typed<RuleView>()(
    {
      id: str({ description: "the rule's id, or <source>#<n> when it has none" }),
      name: str(),
      title: str(),
      level: oneOfStr(LEVELS),
      tags: arr(str()),
      status: str(),
      description: str(),
      logsource: obj({ product: str(), category: str(), service: str() }, { optional: ["product", "category", "service"] }),
      kind: oneOfStr(["detection", "correlation"]),
      source: str({ description: "file the rule came from" }),
      enabled: bool(),
      generates: bool({ description: "false when the rule only feeds correlations" }),
      correlationType: oneOfStr(CORRELATION_TYPES),
      firing: oneOfStr(["early", "at_window_close"]),
      origin: oneOfStr(["builtin", "sigmahq", "uploaded"]),
      alerts: bool({ description: "false for SigmaHQ pack rules below medium: they raise entity risk and feed correlations only" }),
    },
    { optional: ["name", "status", "description", "correlationType", "firing"] },
  ),
  RuleUploadResult: obj({ rules: arr(ref("Rule")) }),
  PipelineStats: typed<PipelineStats>()({
    queuedEvents: int(),
    queuedBatches: int(),
    queuePeak: int(),
    gateWaits: int(),
    processedEvents: int(),
    chunks: int(),
    matches: int(),
    iocHits: int(),
    failures: int(),
    engines: int(),
    overBudget: int(),
    skippedOverBudget: int(),
    workerRestarts: int(),
    workerBusy: bool(),
    correlationRouted: int({ description: "correlation inputs routed to the owners of their groups" }),
    correlationReceived: int({ description: "correlation inputs received as an owner (replays after failover included)" }),
    correlationQueued: int(),
    correlationRouteFailures: int({ description: "correlation inputs the bus refused" }),
    correlationRejected: int({ description: "correlation inputs read back from the bus that failed their checks" }),
    correlationPartitions: int({ description: "correlation partitions this process owns" }),
    stageMs: ref("DetectionStageMs"),
  }),
  DetectionStageMs: typed<DetectionStageMs>()({
    lookup: num({ description: "ms reading agents' names" }),
    prepare: num({ description: "ms in IOC matching and Sigma mapping" }),
    match: num({ description: "ms waiting for the detection worker's rules" }),
    route: num({ description: "ms handing correlation inputs to their owners" }),
    clocks: num({ description: "ms handing hosts' clocks to correlation owners" }),
    correlate: num({ description: "ms in this process's correlation windows" }),
    record: num({ description: "ms writing alerts" }),
  }),
  Ioc: typed<IocView>()(
    {
      id: str({ description: "numeric id, as a string" }),
      kind: oneOfStr(["ip", "cidr", "domain", "sha256"]),
      value: str({ description: "canonical form" }),
      confidence: int({ minimum: 0, maximum: 100 }),
      source: str(),
      description: str(),
      expiresAtMs: int({ description: "ms since the epoch after which it no longer matches" }),
      tags: arr(str()),
      sourceId: str({ description: "identifier in the source document (STIX indicator id)" }),
      createdAt: time(),
      updatedAt: time(),
    },
    { optional: ["description", "expiresAtMs", "tags", "sourceId"] },
  ),
  IocParseError: typed<IocParseError>()({ line: int(), indicatorId: str(), field: str(), message: str() }, { optional: ["line", "indicatorId", "field"] }),
  IocImportResult: typed<ImportResult>()(
    {
      imported: int(),
      errors: arr(ref("IocParseError")),
      unsupported: { type: "object", additionalProperties: { type: "integer" }, description: "refused lines of kinds Vigil cannot match, by kind" },
      format: oneOfStr(["csv", "list"]),
      indicators: int(),
      skipped: typed<StixSkipped>()({ revoked: int(), expired: int(), superseded: int() }),
      partial: arr(ref("IocParseError")),
      observables: int(),
      errorsOmitted: int(),
    },
    { optional: ["unsupported", "format", "indicators", "skipped", "partial", "observables", "errorsOmitted"] },
  ),
  IocInput: obj(
    {
      type: oneOfStr(["ip", "cidr", "domain", "sha256"]),
      value: str(),
      confidence: int({ minimum: 0, maximum: 100 }),
      source: str({ maxLength: 255 }),
      description: str(),
      expiresAt: str({ description: "ISO 8601 or epoch ms" }),
      tags: arr(str()),
    },
    { optional: ["confidence", "source", "description", "expiresAt", "tags"] },
  ),
  Suppression: typed<SuppressionView>()(
    {
      id: str(),
      ruleId: str({ description: "rule id, wildcards * ? allowed" }),
      fields: open("Sigma field name → value (wildcards) | {cidr} | list"),
      agentTags: arr(str()),
      expiresAtMs: int(),
      reason: str(),
      createdBy: str(),
      createdAtMs: int(),
      hits: int(),
      lastHitAt: nullable(time()),
      expired: bool(),
    },
    { optional: ["ruleId", "fields", "agentTags", "expiresAtMs", "createdBy", "createdAtMs"] },
  ),
  SuppressionInput: obj(
    {
      id: str({ maxLength: 64 }),
      ruleId: str({ description: "rule id, wildcards * ? allowed" }),
      fields: open("Sigma field name → value (wildcards) | {cidr} | list"),
      agentTags: arr(str()),
      expiresAt: str({ description: "ISO 8601" }),
      expiresAtMs: int(),
      reason: str(),
    },
    { optional: ["id", "ruleId", "fields", "agentTags", "expiresAt", "expiresAtMs"] },
  ),
  EntityRisk: withHostname(
    typed<EntityRiskView>()({ kind: oneOfStr(["host", "user", "ip"]), value: str(), risk: num({ minimum: 0, maximum: 100, description: "risk now (decayed)" }), updatedAt: time() }),
  ),
};
