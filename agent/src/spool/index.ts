export { DiskSpool } from "./spool";
export {
  defaultPriority,
  NOT_STORED,
  PRIORITIES,
  Priority,
  SpoolConfigError,
  SpoolFullError,
  SpoolLockedError,
  type AppendItem,
  type FsyncPolicy,
  type FullPolicy,
  type LeasedRecord,
  type SpoolOptions,
  type SpoolStats,
} from "./types";
