import type { DataSource } from "typeorm";
import type { ControllerConfig } from "../config/config";
import { AuditCheckpoints, checkpointPath, type Checkpoint } from "./audit-checkpoints";
import { loadAuditKey } from "./audit-key";
import { AuditLog } from "./audit-log";

/**
 * The audit trail as every writer opens it (controller and CLI): keyed with the
 * key from the environment or the data dir, checkpointed into the data dir.
 * `create: false` for verification, which must not mint a new key.
 */
export function openAuditLog(
  ds: DataSource,
  config: Pick<ControllerConfig, "dataDir" | "auditKey">,
  opts: { create?: boolean; log?: (cp: Checkpoint) => void; onBroken?: (reason: string) => void } = {},
): AuditLog {
  const key = loadAuditKey(config.dataDir, config.auditKey, { create: opts.create ?? true });
  return new AuditLog(ds, { key, checkpoints: new AuditCheckpoints(checkpointPath(config.dataDir), opts.log), onBroken: opts.onBroken });
}

/** One CLI write: the record, then its checkpoint, before the process exits. */
export async function appendFromCli(ds: DataSource, config: Pick<ControllerConfig, "dataDir" | "auditKey">, write: (audit: AuditLog) => Promise<unknown>): Promise<void> {
  const audit = openAuditLog(ds, config);
  try {
    await write(audit);
  } finally {
    await audit.stop();
  }
}
