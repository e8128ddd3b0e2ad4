import { join } from "node:path";
import type { AgentConfig } from "../config/config";
import { AuditSensor } from "../sensors/audit";
import { AuthSensor, JOURNAL_IDENTIFIERS } from "../sensors/auth";
import { SyslogSensor } from "../sensors/syslog";
import { NetworkSensor } from "../sensors/network";
import { ProcessSensor } from "../sensors/process";
import { FileSensor } from "../sensors/file";
import type { Sensor } from "../sensors/sensor";
import { SyntheticSensor } from "../sensors/synthetic";

/** The sensors the configuration turns on, each with its own slice of the state dir. */
export function createSensors(cfg: AgentConfig): Sensor[] {
  const sensors: Sensor[] = [];
  if (cfg.sensors.process) sensors.push(new ProcessSensor({ intervalMs: cfg.processIntervalMs }));
  if (cfg.sensors.network) sensors.push(new NetworkSensor({ intervalMs: cfg.networkIntervalMs }));
  if (cfg.sensors.file) sensors.push(new FileSensor({ paths: cfg.watch, stateDir: join(cfg.stateDir, "file") }));
  if (cfg.sensors.auth) sensors.push(new AuthSensor({ path: cfg.authLog, stateDir: join(cfg.stateDir, "auth") }));
  if (cfg.sensors.audit) sensors.push(new AuditSensor({ path: cfg.auditLog, stateDir: join(cfg.stateDir, "audit") }));
  if (cfg.sensors.syslog) sensors.push(new SyslogSensor({ path: cfg.systemLog, exclude: JOURNAL_IDENTIFIERS, stateDir: join(cfg.stateDir, "syslog") }));
  if (cfg.syntheticRate > 0) sensors.push(new SyntheticSensor({ rate: cfg.syntheticRate, count: cfg.syntheticCount, mix: cfg.syntheticMix, stateDir: join(cfg.stateDir, "synthetic") }));
  return sensors;
}
