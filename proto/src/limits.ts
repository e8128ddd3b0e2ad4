/**
 * Wire limits shared by both ends. A message above MAX_MESSAGE_BYTES is refused by
 * grpc-js before it is decoded; the per-field bounds are applied by the receiver.
 */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
export const MAX_EVENTS_PER_BATCH = 2000;
export const MAX_STRING_FIELD_BYTES = 32 * 1024;
export const MAX_PATH_BYTES = 4096;

/**
 * The agent policy (rules + IOCs + actions). Its policy_json travels in PolicyChunk messages of
 * POLICY_CHUNK_BYTES when larger than that, so no policy message nears MAX_MESSAGE_BYTES; the agent
 * refuses to assemble more than MAX_POLICY_BYTES, and the controller never builds more (it ships
 * the best IOCs that fit and says how many it left out).
 */
export const POLICY_CHUNK_BYTES = 1024 * 1024;
export const MAX_POLICY_BYTES = 24 * 1024 * 1024;
/** IOCs one policy may carry (what an agent indexes in memory). */
export const MAX_POLICY_IOCS = 200_000;
/** Rule YAML one policy may carry, all rules together. */
export const MAX_POLICY_RULE_BYTES = 2 * 1024 * 1024;
/**
 * The highest sequence number either end accepts: no agent assigns 4.5e15 events, and
 * past 2^53 a JavaScript number stops being exact (seq + 1 === seq), which is how one
 * forged seq once blinded an agent for good.
 */
export const MAX_SEQ = 2 ** 52;

/**
 * Bounds of a host inventory: the agent cuts its lists here and the controller holds any agent
 * to them again (an inventory is the agent's word, like any frame).
 */
export const INVENTORY_LIMITS = { packages: 20_000, users: 2_000, listeners: 2_000, disks: 256, interfaces: 256, addressesPerInterface: 32, errors: 32, text: 256 } as const;

/** Records of one audit event carried in AuditEvent.records (an exec has 4-6; a rename a few PATHs more). */
export const MAX_AUDIT_RECORDS = 16;
