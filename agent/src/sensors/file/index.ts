export { FileSensor, type FileSensorOptions } from "./file-sensor";
export { DEFAULT_WATCH_PATHS, resolveWatchRoots, expandPattern, type WatchRoots } from "./watch-paths";
export { BaselineStore, type FileRecord } from "./baseline-store";
export { FileTracker } from "./file-tracker";
