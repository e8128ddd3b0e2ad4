export { FileTailer, type FileTailerOptions } from "./file-tailer";
export { LineSplitter } from "./line-splitter";
export { parseSyslogHeader, type SyslogHeader } from "./syslog-header";
export { firstExistingFile, tailStatePath } from "./log-paths";
