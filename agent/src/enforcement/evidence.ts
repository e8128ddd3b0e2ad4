import { readdirSync, readlinkSync } from "node:fs";
import { COMMAND_LIMITS } from "@vigil/proto";
import { EvidenceDenyList } from "./evidence-deny";
import { readFileBounded, sha256File } from "./evidence-files";
import { type CommandHandler, ParamError, asObject, failed, monitored, optBool, optInt, optString, optStringArray, rejectUnknownKeys, succeeded } from "./handler";
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
const MAX_PATH_BYTES = COMMAND_LIMITS.pathMaxBytes;
const MAX_LIST_ITEMS = 5000;
const MAX_CMDLINE = 1024;

function absPath(p: string, field: string): string {
  if (!p.startsWith("/")) throw new ParamError(field, "must be an absolute path");
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) throw new ParamError(field, `longer than ${MAX_PATH_BYTES} bytes`);
  // A path with . or .. means something other than it reads; only canonical paths are taken.
  if (p.split("/").some((c) => c === "." || c === "..")) throw new ParamError(field, "must not contain . or .. components");
  return p;
}

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
      const o = asObject(params);
      rejectUnknownKeys(o, ["processes", "connections", "openFilesPid", "sha256Paths", "filePath", "fileMaxBytes", "reason"]);
      const reason = optString(o, "reason", COMMAND_LIMITS.reasonMaxChars);
      const req: EvidenceRequest = {
        processes: optBool(o, "processes") ?? false,
        connections: optBool(o, "connections") ?? false,
        openFilesPid: optInt(o, "openFilesPid", 1, 4_194_304),
        sha256Paths: (optStringArray(o, "sha256Paths", COMMAND_LIMITS.sha256PathsMax, MAX_PATH_BYTES) ?? []).map((p, i) => absPath(p, `sha256Paths[${i}]`)),
        filePath: ((p) => (p === undefined ? undefined : absPath(p, "filePath")))(optString(o, "filePath", MAX_PATH_BYTES)),
        fileMaxBytes: optInt(o, "fileMaxBytes", 1, MAX_FILE_BYTES) ?? COMMAND_LIMITS.evidenceFileDefaultBytes,
        reason,
      };
      // File contents leave the host: someone must have said why (the controller stores and audits it).
      if (req.filePath !== undefined && !reason?.trim()) throw new ParamError("reason", "required (non-empty) to read a file's contents");
      if (!req.processes && !req.connections && req.openFilesPid === undefined && req.sha256Paths.length === 0 && req.filePath === undefined)
        throw new ParamError("params", "request at least one of processes, connections, openFilesPid, sha256Paths, filePath");
      return req;
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
