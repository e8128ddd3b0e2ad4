export { AuditSensor, DEFAULT_AUDIT_LOG, type AuditSensorOptions } from "./audit-sensor";
export { parseAuditLine, AUDIT_LIMITS, type ParsedAudit } from "./parse-audit-line";
