export { AuditSensor, DEFAULT_AUDIT_LOG, type AuditSensorOptions } from "./audit-sensor";
export { AuditAssembler, type AuditAssemblerOptions, type AssemblerStats } from "./audit-assembler";
export { parseAuditLine, AUDIT_LIMITS, type ParsedAudit } from "./parse-audit-line";
export { AuditProcessSensor, type AuditProcessSensorOptions } from "./audit-process-sensor";
export { auditExec, auditProcessStart, VIGIL_EXEC_KEY } from "./audit-exec";
