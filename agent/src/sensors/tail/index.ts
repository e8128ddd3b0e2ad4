export { FileTailer, type FileTailerOptions } from "./file-tailer";
export { LineSplitter } from "./line-splitter";
export { parseSyslogHeader, type SyslogHeader } from "./syslog-header";
export { firstExistingFile, tailStatePath } from "./log-paths";
export { JournalSource, type JournalSourceOptions } from "./journal-source";
export { journalCursor, journalField, journalRecord, type JournalRecord } from "./journal-fields";
export { LogFollower, type LogFollowerOptions } from "./log-follower";
export { DEFAULT_JOURNAL_DIRS, journalFilesPresent } from "./journal-presence";
