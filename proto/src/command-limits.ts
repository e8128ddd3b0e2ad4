import { MAX_PATH_BYTES } from "./limits";

/**
 * Bounds on command parameters and results that the controller (before it signs)
 * and the agent (before it acts) both enforce. One table, imported by both ends, so
 * the API can never accept what the agent will refuse, nor promise more than it
 * will send; test/command-limits.test.ts fails if either side stops using it.
 */
export const COMMAND_LIMITS = {
  /** Most bytes of one file's contents that collect_evidence returns. */
  evidenceFileMaxBytes: 1024 * 1024,
  /** What collect_evidence returns of a file when fileMaxBytes is not given. */
  evidenceFileDefaultBytes: 64 * 1024,
  /** The whole collect_evidence result (JSON) must fit a gRPC message (4 MiB) with room to spare. */
  evidenceResultMaxBytes: 2 * 1024 * 1024,
  /** Paths (filePath, each of sha256Paths), in UTF-8 bytes. */
  pathMaxBytes: MAX_PATH_BYTES,
  /** Files hashed by one collect_evidence. */
  sha256PathsMax: 64,
  /** The free-text reason every command may carry (required for file contents). */
  reasonMaxChars: 500,
  /** Command ids (UUIDs from the controller, "local-…" from the agent). */
  commandIdMaxChars: 128,
  /** Case ids a command may be filed under. */
  caseIdMaxChars: 64,
  /** Allowlisted CIDRs of one isolation. */
  allowCidrsMax: 64,
  /** Longest block_ip (ttlSeconds): a block lifts itself within 30 days. */
  blockTtlMaxSeconds: 30 * 24 * 3600,
  /** Highest pid (the kernel's PID_MAX_LIMIT). */
  pidMax: 4_194_304,
  /** IP addresses and CIDRs in command params, in characters. */
  ipMaxChars: 64,
  /** Stored command output (JSON characters): the result message less its envelope. */
  outputMaxChars: 2 * 1024 * 1024,
} as const;

export type CommandLimits = typeof COMMAND_LIMITS;

/** The pattern of ids a client may give (case ids and the like): no spaces, quotes, slashes or controls. */
export const SAFE_ID_PATTERN = /^[A-Za-z0-9._:-]+$/;
