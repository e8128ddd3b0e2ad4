import type { VerifyResult } from "../../audit/audit-chain";
import type { ApiKeyView } from "../../auth/api-keys";
import { ROLES } from "../../http/roles";
import type { IngestStats } from "../../ingest/ingest-writer";
import type { TokenView } from "../../trust/enrollment-tokens";
import { anyJson, arr, bool, int, nullable, num, obj, oneOfStr, open, ref, str, time, typed, type Schema } from "./schema";

type VerifyOk = Extract<VerifyResult, { ok: true }>;
type VerifyBroken = Extract<VerifyResult, { ok: false }>;

const API_KEY = typed<ApiKeyView>()({ id: str(), name: str(), role: oneOfStr(ROLES), createdAt: time(), createdBy: str(), lastUsedAt: nullable(time()), revoked: bool() });
const TOKEN = typed<TokenView>()({ id: str(), tags: arr(str()), usesLeft: int(), usesTotal: int(), expiresAt: time(), createdAt: time(), createdBy: str() });
const AUDIT_RECORD = obj({
  seq: int(),
  time: time(),
  actor: str({ example: "apikey:9b7b7c35632a1ffc" }),
  action: str({ example: "command.requested" }),
  target: str({ example: "agent:web-1" }),
  details: anyJson(),
  prevHash: str(),
  hash: str(),
});

/** API keys, enrollment, the audit trail, health. */
export const ADMIN_SCHEMAS: Record<string, Schema> = {
  ApiKey: API_KEY,
  ApiKeyCreated: obj({ ...API_KEY.properties, key: str({ description: "vk_<id>_<secret>: shown in this response only" }) }),
  ApiKeyInput: obj({ role: oneOfStr(ROLES), name: str({ maxLength: 128 }) }, { optional: ["name"] }),
  EnrollmentToken: TOKEN,
  EnrollmentTokenCreated: obj({
    ...TOKEN.properties,
    token: str({ description: "vet_<id>_<secret>: shown in this response only" }),
    caFingerprint: str({ description: "SHA-256 of the controller CA, for the agent's --ca-pin" }),
  }),
  EnrollmentTokenInput: obj(
    { ttl: str({ example: "24h", description: "duration (s, m, h, d)" }), uses: int({ minimum: 1, maximum: 100000 }), tags: arr(str({ maxLength: 64 }), { maxItems: 32 }) },
    { optional: ["ttl", "uses", "tags"] },
  ),
  AgentRevoked: obj({ agentId: str(), revoked: bool(), certificates: int({ description: "certificates revoked now" }) }),
  CaCertificate: obj({ fingerprint: str(), certificatePem: str(), notAfter: time() }),
  AuditRecord: AUDIT_RECORD,
  AuditVerify: {
    oneOf: [
      typed<VerifyOk>()(
        { ok: { type: "boolean", enum: [true] }, records: int(), headHash: str(), headSeq: int(), keyedFrom: nullable(int()), checkpoint: nullable(obj({ seq: int(), time: time() })), warning: str() },
        { optional: ["checkpoint", "warning"] },
      ),
      typed<VerifyBroken>()({ ok: { type: "boolean", enum: [false] }, records: int(), brokenAt: int({ description: "seq of the first record that does not link" }), reason: str() }),
    ],
  },
  Health: obj(
    {
      status: oneOfStr(["ok"]),
      version: str(),
      role: oneOfStr(["all", "ingest", "worker", "api"], { description: "What this replica runs (serve --role); a single controller is `all`" }),
      database: str({ example: "better-sqlite3" }),
      agentsOnline: int(),
      ingest: typed<IngestStats>()({ batches: int(), events: int(), duplicates: int(), transactions: int(), pendingBatches: int(), pendingEvents: int(), failures: int(), refused: int() }),
      detection: obj({
        queuedEvents: int({ description: "stored events waiting for detection (storage waits when over the bound)" }),
        processedEvents: int(),
        gateWaits: int({ description: "times storage or ingest waited for detection" }),
        stageMs: ref("DetectionStageMs"),
      }),
      eventLoop: obj(
        { windowMs: int(), meanMs: num(), p99Ms: num(), maxMs: num() },
        { description: "How late the main thread ran its callbacks over the last window: every database and NATS round trip waits as long" },
      ),
      registrations: obj(
        {
          reads: obj({ batches: int(), items: int(), isolatedRuns: int() }),
          writes: obj({ batches: int(), items: int(), isolatedRuns: int({ description: "failed batches run again one agent at a time" }) }),
        },
        { description: "Agents' rows read and written by registrations, a batch per statement: items / batches agents shared each" },
      ),
      distributed: open("Distributed mode only: NATS link, replica id, owned partitions, storage and sink counters"),
    },
    { optional: ["distributed"] },
  ),
};
