import type { ControllerConfig } from "../config/config";
import type { AuditRepository } from "../database/repositories/audit-repository";
import { AuditCheckpoints, checkpointPath, type Checkpoint } from "./audit-checkpoints";
import { loadAuditKey } from "./audit-key";
import { AuditLog } from "./audit-log";

/**
 * The audit trail as every writer opens it (controller and CLI): keyed with the
 * key from the environment or the data dir, checkpointed into the data dir.
 * `create: false` for verification, which must not mint a new key.
 */
export function openAuditLog(
  records: AuditRepository,
  config: Pick<ControllerConfig, "dataDir" | "auditKey">,
  opts: { create?: boolean; log?: (cp: Checkpoint) => void; onBroken?: (reason: string) => void } = {},
): AuditLog {
  const key = loadAuditKey(config.dataDir, config.auditKey, { create: opts.create ?? true });
  return new AuditLog(records, { key, checkpoints: new AuditCheckpoints(checkpointPath(config.dataDir), opts.log), onBroken: opts.onBroken });
}

/** One CLI write: the record, then its checkpoint, before the process exits. */
export async function appendFromCli(records: AuditRepository, config: Pick<ControllerConfig, "dataDir" | "auditKey">, write: (audit: AuditLog) => Promise<unknown>): Promise<void> {
  const audit = openAuditLog(records, config);
  try {
    await write(audit);
  } finally {
    await audit.stop();
  }
}
