export { SyslogSensor, DEFAULT_SYSLOGS, type SyslogSensorOptions } from "./syslog-sensor";
export { parseSyslogLine, LOG_LIMITS, type ParsedLog } from "./parse-syslog-line";
