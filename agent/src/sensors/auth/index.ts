export { parseAuthLine, type ParsedAuth, type ParseOptions } from "./parse-line";
export { parseJournalEntry } from "./journal-entry";
