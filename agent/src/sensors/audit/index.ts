export { AuditSensor, DEFAULT_AUDIT_LOG, type AuditSensorOptions } from "./audit-sensor";
export { AuditAssembler, type AuditAssemblerOptions, type AssemblerStats } from "./audit-assembler";
export { parseAuditLine, AUDIT_LIMITS, type ParsedAudit } from "./parse-audit-line";
