import { COMMAND_LIMITS as L } from "../command-limits";
import type { BlockIp, CollectEvidence, Command, IsolateHost, KillProcess, ReleaseIsolation, TerminateSession, UnblockIp } from "../gen/vigil/v1/agent";
import { CommandParamError, type FieldSpec } from "./fields";

/**
 * The one definition of every command type: its parameters and their bounds (from
 * COMMAND_LIMITS), the rules across parameters, whether the agent's local policy may
 * take it, how it is undone, and what a playbook calls it. The controller (API,
 * playbooks, undo, local-policy documents) and the agent (handlers, executor) all
 * read this table; controller/test/response/command-contract.test.ts fails when the proto oneof, this
 * table, the agent's handlers or the playbook actions name different sets.
 */
export interface CommandParamsByType {
  isolate: IsolateHost;
  release: ReleaseIsolation;
  kill_process: KillProcess;
  terminate_session: TerminateSession;
  block_ip: BlockIp;
  unblock_ip: UnblockIp;
  collect_evidence: CollectEvidence;
}
export type CommandType = keyof CommandParamsByType;

/** The case names of Command.params as ts-proto spells them (camelCase of the proto field). */
export type CommandParamsCase = NonNullable<Command["params"]>["$case"];

/** Plain params as JSON carries them: the typed message without its absent fields. */
export type ParamsOf<T extends CommandType> = CommandParamsByType[T];

export interface CommandSpec<T extends CommandType> {
  type: T;
  /** The Command.params case that carries it. */
  oneofCase: CommandParamsCase;
  summary: string;
  /** In canonical order: the order of the keys in the signed JSON. */
  fields: readonly FieldSpec[];
  /** Rules across fields, run after every field passed its own. Throws CommandParamError. */
  check?: (p: ParamsOf<T>) => void;
  /** May the agent take it on its own local policy? Lifting containment never is. */
  localPolicy: boolean;
  /** The command that reverses it, or null when nothing can (a killed process stays dead). */
  undo: { type: CommandType; params: (p: ParamsOf<T>) => Record<string, unknown> } | null;
  /** The action name a playbook uses for it, or null when playbooks may not issue it. */
  playbookAction: string | null;
  /** Does it bring a file's contents off the host? That needs its own permission and a reason; no playbook may. */
  readsFileContents: (p: ParamsOf<T>) => boolean;
}

const PID = { kind: "int", min: 2, max: L.pidMax } as const;
const TIME = { kind: "int", min: 0, max: Number.MAX_SAFE_INTEGER } as const;
const REASON: FieldSpec = { name: "reason", rule: { kind: "string", maxChars: L.reasonMaxChars }, description: `why, at most ${L.reasonMaxChars} characters (stored and audited)` };
const never = (): boolean => false;

const isolate = {
  type: "isolate",
  oneofCase: "isolate",
  summary: "cut the host off the network except the controller and the allowlist",
  fields: [{ name: "allowCidrs", rule: { kind: "list", maxItems: L.allowCidrsMax, item: { kind: "ip" } }, description: "extra CIDRs kept reachable" }, REASON],
  localPolicy: true,
  undo: { type: "release", params: () => ({}) },
  playbookAction: "isolate",
  readsFileContents: never,
} as const satisfies CommandSpec<"isolate">;

const release = {
  type: "release",
  oneofCase: "release",
  summary: "lift an isolation",
  fields: [REASON],
  localPolicy: false,
  undo: null,
  playbookAction: null,
  readsFileContents: never,
} as const satisfies CommandSpec<"release">;

const killProcess = {
  type: "kill_process",
  oneofCase: "killProcess",
  summary: "SIGKILL a process, or SIGSTOP then SIGKILL its tree",
  fields: [
    { name: "pid", rule: PID, required: true, description: "the process id" },
    { name: "startTimeMs", rule: TIME, description: "its start time, ms since the epoch (this or startTicks is required)" },
    { name: "startTicks", rule: TIME, description: "its start time in clock ticks since boot" },
    { name: "tree", rule: { kind: "bool" }, description: "kill the whole tree (default false)" },
    REASON,
  ],
  check: (p) => {
    if (p.startTimeMs === undefined && p.startTicks === undefined) throw new CommandParamError("startTimeMs", "is required (or startTicks) so a recycled pid is never hit");
  },
  localPolicy: true,
  undo: null,
  playbookAction: "kill_process",
  readsFileContents: never,
} as const satisfies CommandSpec<"kill_process">;

const terminateSession = {
  type: "terminate_session",
  oneofCase: "terminateSession",
  summary: "end a login session, named by logind id, sshd process, or user + tty",
  fields: [
    { name: "sessionId", rule: { kind: "string", maxChars: 64, pattern: /^[A-Za-z0-9_-]+$/ }, description: "logind session id" },
    { name: "sshdPid", rule: PID, description: "the per-connection sshd process" },
    { name: "startTicks", rule: TIME, description: "start time of sshdPid in clock ticks since boot" },
    { name: "startTimeMs", rule: TIME, description: "start time of sshdPid, ms since the epoch" },
    { name: "user", rule: { kind: "string", maxChars: 32, pattern: /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/ }, description: "user name (with tty)" },
    { name: "tty", rule: { kind: "string", maxChars: 32, pattern: /^(pts\/\d+|tty\d+|ttyS\d+)$/ }, description: "terminal: pts/N, ttyN or ttySN (with user)" },
    REASON,
  ],
  check: (p) => {
    const ways = [p.sessionId !== undefined, p.sshdPid !== undefined, p.user !== undefined || p.tty !== undefined].filter(Boolean).length;
    if (ways !== 1) throw new CommandParamError("params", "give exactly one of sessionId, sshdPid, or user + tty");
    if ((p.user === undefined) !== (p.tty === undefined)) throw new CommandParamError(p.user === undefined ? "user" : "tty", "is required with the other");
  },
  localPolicy: false,
  undo: null,
  playbookAction: "terminate_session",
  readsFileContents: never,
} as const satisfies CommandSpec<"terminate_session">;

const blockIp = {
  type: "block_ip",
  oneofCase: "blockIp",
  summary: "drop traffic to and from an address or CIDR",
  fields: [
    { name: "ip", rule: { kind: "ip" }, required: true, description: "address or CIDR" },
    { name: "ttlSeconds", rule: { kind: "int", min: 1, max: L.blockTtlMaxSeconds }, description: "lift the block after this many seconds (COMMAND_LIMITS.blockTtlMaxSeconds at most)" },
    REASON,
  ],
  localPolicy: true,
  undo: { type: "unblock_ip", params: (p) => ({ ip: p.ip }) },
  playbookAction: "block_ip",
  readsFileContents: never,
} as const satisfies CommandSpec<"block_ip">;

const unblockIp = {
  type: "unblock_ip",
  oneofCase: "unblockIp",
  summary: "remove a block",
  fields: [{ name: "ip", rule: { kind: "ip" }, required: true, description: "the blocked address or CIDR" }, REASON],
  localPolicy: false,
  undo: null,
  playbookAction: null,
  readsFileContents: never,
} as const satisfies CommandSpec<"unblock_ip">;

const EVIDENCE_KINDS = ["processes", "connections", "openFilesPid", "sha256Paths", "filePath"] as const;
const collectEvidence = {
  type: "collect_evidence",
  oneofCase: "collectEvidence",
  summary: "read-only evidence: process list, connections, open files, file hashes, a file's contents",
  fields: [
    { name: "processes", rule: { kind: "bool" }, description: "the process list" },
    { name: "connections", rule: { kind: "bool" }, description: "the open connections" },
    { name: "openFilesPid", rule: { kind: "int", min: 1, max: L.pidMax }, description: "list the open files of this pid" },
    { name: "sha256Paths", rule: { kind: "list", maxItems: L.sha256PathsMax, item: { kind: "path" } }, description: "hash these files" },
    { name: "filePath", rule: { kind: "path" }, description: "return this file's contents (evidence.fetch_file permission and a reason)" },
    {
      name: "fileMaxBytes",
      rule: {
        kind: "int",
        min: 1,
        max: L.evidenceFileMaxBytes,
        message: `expected an integer between 1 and ${L.evidenceFileMaxBytes}: agents return at most ${L.evidenceFileMaxBytes} bytes of a file (COMMAND_LIMITS.evidenceFileMaxBytes)`,
      },
      description: `bytes of filePath returned (default ${L.evidenceFileDefaultBytes})`,
    },
    REASON,
  ],
  check: (p) => {
    // File contents leave the host: someone must have said why (the controller stores and audits it).
    if (p.filePath !== undefined && !p.reason?.trim()) throw new CommandParamError("reason", "required (non-empty) to fetch a file's contents; it is stored with the command and audited");
    const asked = p.processes === true || p.connections === true || p.openFilesPid !== undefined || p.sha256Paths.length > 0 || p.filePath !== undefined;
    if (!asked) throw new CommandParamError("params", `request at least one of ${EVIDENCE_KINDS.join(", ")}`);
  },
  localPolicy: false,
  undo: null,
  playbookAction: "collect_evidence",
  readsFileContents: (p) => p.filePath !== undefined,
} as const satisfies CommandSpec<"collect_evidence">;

export const COMMANDS = {
  isolate,
  release,
  kill_process: killProcess,
  terminate_session: terminateSession,
  block_ip: blockIp,
  unblock_ip: unblockIp,
  collect_evidence: collectEvidence,
} as const satisfies { readonly [T in CommandType]: CommandSpec<T> };

type Assert<T extends true> = T;
/**
 * Compiles only while every Command.params case is some command type's oneofCase and no
 * spec names a case the proto lacks: a proto message added without a definition here (or
 * the reverse) fails `tsc -b`, before controller/test/response/command-contract.test.ts does.
 */
export type CommandContractCoversTheOneof = Assert<
  [CommandParamsCase] extends [(typeof COMMANDS)[CommandType]["oneofCase"]] ? ([(typeof COMMANDS)[CommandType]["oneofCase"]] extends [CommandParamsCase] ? true : false) : false
>;

/** The types the agent's local policy may take, as a type (decided by each spec's localPolicy). */
export type LocalPolicyType = { [T in CommandType]: (typeof COMMANDS)[T]["localPolicy"] extends true ? T : never }[CommandType];

export const COMMAND_TYPES = Object.keys(COMMANDS) as CommandType[];

export function isCommandType(t: unknown): t is CommandType {
  return typeof t === "string" && Object.prototype.hasOwnProperty.call(COMMANDS, t);
}

/** The types the agent's local policy may take (the rest need a signed command). */
export const LOCAL_POLICY_TYPES = COMMAND_TYPES.filter((t): t is LocalPolicyType => COMMANDS[t].localPolicy);

/** The action names playbooks use for commands, as a type (each spec's playbookAction). */
export type PlaybookCommandAction = NonNullable<{ [T in CommandType]: (typeof COMMANDS)[T]["playbookAction"] }[CommandType]>;

/** Playbook action name → command type, for the types a playbook may issue. */
export const PLAYBOOK_COMMANDS: ReadonlyMap<PlaybookCommandAction, CommandType> = new Map(
  COMMAND_TYPES.flatMap((t) => {
    const a: PlaybookCommandAction | null = COMMANDS[t].playbookAction;
    return a === null ? [] : [[a, t] as const];
  }),
);

/** The definition of a type named by an untrusted string; throws CommandParamError naming the known types. */
export function commandSpec(type: string): CommandSpec<CommandType> {
  if (!isCommandType(type)) throw new CommandParamError("type", `unknown command type ${JSON.stringify(type.slice(0, 64))}; expected one of ${COMMAND_TYPES.join(", ")}`);
  return COMMANDS[type] as unknown as CommandSpec<CommandType>;
}
