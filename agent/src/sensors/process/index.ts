export { ProcessSensor, type ProcessSensorOptions } from "./process-sensor";
export { takeSnapshot, diffSnapshot, processKey, type SnapshotDiff } from "./snapshot";
export { readProcessRecord, startTimeMs, type ProcessRecord } from "./process-record";
