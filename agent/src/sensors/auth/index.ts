export { AuthSensor, type AuthSensorOptions, DEFAULT_AUTH_LOGS } from "./auth-sensor";
export { parseAuthLine, type ParsedAuth, type ParseOptions } from "./parse-line";
export { parseJournalEntry, JOURNAL_IDENTIFIERS } from "./journal-entry";
