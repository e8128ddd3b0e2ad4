import { readdirSync, readlinkSync } from "node:fs";
import { COMMAND_LIMITS, validateCommandParams } from "@vigil/proto";
import { EvidenceDenyList } from "./evidence-deny";
import { readFileBounded, sha256File } from "./evidence-files";
import { type CommandHandler, failed, monitored, succeeded } from "./handler";
import { listConnections } from "./net-conns";
import { processCmdline, processExe, processUid, snapshot, startTimeMs } from "../platform/linux/processes";

export interface EvidenceRequest {
  processes: boolean;
  connections: boolean;
  openFilesPid?: number;
  sha256Paths: string[];
  filePath?: string;
  fileMaxBytes: number;
  reason?: string;
}

export interface EvidenceDeps {
  /** The agent's state dir, never read (its keys, certificates, spool). */
  stateDir: string;
  /** More protected paths from the agent config (evidence_deny). */
  denyPaths?: readonly string[];
}

/** Shared with the controller (COMMAND_LIMITS): neither end can lift them. */
export const MAX_EVIDENCE_JSON_BYTES = COMMAND_LIMITS.evidenceResultMaxBytes;
export const MAX_FILE_BYTES = COMMAND_LIMITS.evidenceFileMaxBytes;
const MAX_LIST_ITEMS = 5000;
const MAX_CMDLINE = 1024;

function processList(): Record<string, unknown>[] {
  return [...snapshot().values()].map((s) => ({
    pid: s.pid,
    ppid: s.ppid,
    comm: s.comm,
    state: s.state,
    uid: processUid(s.pid) ?? null,
    startTimeMs: Math.round(startTimeMs(s)),
    exe: processExe(s.pid) ?? null,
    cmdline: processCmdline(s.pid, MAX_CMDLINE) ?? null,
  }));
}

function openFiles(pid: number): { fd: number; target: string }[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [{ fd: Number(fd), target: readlinkSync(`/proc/${pid}/fd/${fd}`) }];
    } catch {
      return []; // closed between readdir and readlink
    }
  });
}

/** Caps a list and records that it did, so a truncated answer is never mistaken for a full one. */
function capped<T>(items: T[], truncated: string[], name: string): T[] {
  if (items.length <= MAX_LIST_ITEMS) return items;
  truncated.push(`${name}: ${items.length} items, first ${MAX_LIST_ITEMS} kept`);
  return items.slice(0, MAX_LIST_ITEMS);
}

export function collectEvidenceHandler(deps: EvidenceDeps): CommandHandler<EvidenceRequest> {
  const deny = new EvidenceDenyList({ stateDir: deps.stateDir, extra: deps.denyPaths });
  return {
    type: "collect_evidence",
    validate(params) {
      // Absolute canonical paths, bounds, a reason for file contents, at least one thing asked: the contract.
      const p = validateCommandParams("collect_evidence", params);
      return {
        processes: p.processes ?? false,
        connections: p.connections ?? false,
        openFilesPid: p.openFilesPid,
        sha256Paths: p.sha256Paths,
        filePath: p.filePath,
        fileMaxBytes: p.fileMaxBytes ?? COMMAND_LIMITS.evidenceFileDefaultBytes,
        reason: p.reason,
      };
    },
    async run(req, mode) {
      const wanted = [
        req.processes && "process list",
        req.connections && "connections",
        req.openFilesPid !== undefined && `open files of pid ${req.openFilesPid}`,
        req.sha256Paths.length > 0 && `sha256 of ${req.sha256Paths.length} path(s)`,
        req.filePath !== undefined && `up to ${req.fileMaxBytes} bytes of ${req.filePath}`,
      ].filter((w): w is string => typeof w === "string");
      // Collection only reads, but monitor mode still means "do nothing" so a policy trial has no cost.
      if (mode === "monitor") return monitored(wanted.map((w) => `collect ${w}`));

      const truncated: string[] = [];
      const out: Record<string, unknown> = { collectedAtMs: Date.now() };
      if (req.processes) out.processes = capped(processList(), truncated, "processes");
      if (req.connections) out.connections = capped(listConnections(), truncated, "connections");
      if (req.openFilesPid !== undefined) {
        try {
          out.openFiles = { pid: req.openFilesPid, files: capped(openFiles(req.openFilesPid), truncated, "openFiles") };
        } catch (e) {
          out.openFiles = { pid: req.openFilesPid, error: (e as Error).message };
        }
      }
      const guard = deny.forOneRequest();
      if (req.sha256Paths.length) out.sha256 = await Promise.all(req.sha256Paths.map((p) => sha256File(p, guard)));
      if (req.filePath !== undefined) {
        const file = await readFileBounded(req.filePath, req.fileMaxBytes, guard);
        out.file = file;
        // The one thing asked for by name was refused: the command failed, and says why.
        if ("error" in file && file.error.startsWith("refused: ")) return failed(`filePath ${req.filePath}: ${file.error}`, out);
      }
      if (truncated.length) out.truncated = truncated;

      const size = Buffer.byteLength(JSON.stringify(out));
      if (size > MAX_EVIDENCE_JSON_BYTES) {
        // Drop the bulkiest lists rather than fail: hashes and the file are what was asked for by name.
        for (const k of ["processes", "connections", "openFiles"] as const) {
          if (k in out && Buffer.byteLength(JSON.stringify(out)) > MAX_EVIDENCE_JSON_BYTES) {
            delete out[k];
            truncated.push(`${k}: dropped to keep the result under ${MAX_EVIDENCE_JSON_BYTES} bytes`);
            out.truncated = truncated;
          }
        }
        if (Buffer.byteLength(JSON.stringify(out)) > MAX_EVIDENCE_JSON_BYTES) return failed(`evidence larger than ${MAX_EVIDENCE_JSON_BYTES} bytes`);
      }
      return succeeded(out);
    },
  };
}
