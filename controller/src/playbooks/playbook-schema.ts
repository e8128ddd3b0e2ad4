import { parseDocument, isMap, type Document } from "yaml";
import { COMMANDS, PLAYBOOK_COMMANDS, type PlaybookCommandAction } from "@vigil/proto";
import { CommandParamError, validatePresetParams } from "../commands/command-params";

/** The commands a playbook may issue (named in the shared command contract), and a notification. */
export type PlaybookActionType = PlaybookCommandAction | "notify";
export const PLAYBOOK_ACTIONS: readonly PlaybookActionType[] = [...PLAYBOOK_COMMANDS.keys(), "notify"];

export interface PlaybookWhen {
  minScore: number;
  rules?: string[];
  /** Any of these Sigma/ATT&CK tags (e.g. attack.t1110, attack.credential_access). */
  tags?: string[];
  entityKinds?: Array<"host" | "user" | "ip">;
  /** The agent must carry all of these tags. */
  agentTags?: string[];
}

export interface PlaybookAction {
  type: PlaybookActionType;
  params: Record<string, unknown>;
}

export interface PlaybookSpec {
  id: string;
  name: string;
  enabled: boolean;
  when: PlaybookWhen;
  actions: PlaybookAction[];
  approval: "auto" | "analyst";
}

export class PlaybookError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly line?: number,
  ) {
    super(`${field}${line ? ` (line ${line})` : ""}: ${message}`);
  }
}

const ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function lineOf(doc: Document, path: (string | number)[], text: string): number | undefined {
  const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : text.slice(0, offset).split("\n").length;
}

function strList(v: unknown, field: string, line: () => number | undefined, max = 100): string[] {
  if (!Array.isArray(v) || v.length > max || !v.every((x) => typeof x === "string" && x.length > 0 && x.length <= 200))
    throw new PlaybookError(field, `expected a list of at most ${max} strings`, line());
  return v as string[];
}

/** Parses and validates a playbook; every error names the field (and YAML line where known). */
export function parsePlaybook(text: string): PlaybookSpec {
  if (text.length > 64 * 1024) throw new PlaybookError("playbook", "larger than 64 KiB");
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    throw new PlaybookError("yaml", e.message.split("\n")[0], e.linePos?.[0]?.line);
  }
  if (!isMap(doc.contents)) throw new PlaybookError("playbook", "expected a YAML map with id, name, when, actions, approval");
  let raw: Record<string, unknown>;
  try {
    raw = doc.toJS({ maxAliasCount: 50 }) as Record<string, unknown>;
  } catch (err) {
    throw new PlaybookError("yaml", (err as Error).message.split("\n")[0]);
  }
  const at =
    (...path: (string | number)[]) =>
    () =>
      lineOf(doc, path, text);
  for (const k of Object.keys(raw)) if (!["id", "name", "description", "enabled", "when", "actions", "approval"].includes(k)) throw new PlaybookError(k, "unknown key", at(k)());
  if (typeof raw.id !== "string" || !ID.test(raw.id)) throw new PlaybookError("id", "required: lowercase letters, digits, . _ - (at most 64)", at("id")());
  if (typeof raw.name !== "string" || !raw.name || raw.name.length > 200) throw new PlaybookError("name", "required: a string of at most 200 characters", at("name")());
  if (raw.enabled !== undefined && typeof raw.enabled !== "boolean") throw new PlaybookError("enabled", "expected true or false", at("enabled")());
  const approval = raw.approval ?? "analyst";
  if (approval !== "auto" && approval !== "analyst") throw new PlaybookError("approval", `expected auto or analyst, got ${JSON.stringify(approval)}`, at("approval")());

  const w = raw.when;
  if (!w || typeof w !== "object" || Array.isArray(w)) throw new PlaybookError("when", "required: a map (minScore, rules, tags, entityKinds, agentTags)", at("when")());
  const wr = w as Record<string, unknown>;
  for (const k of Object.keys(wr)) if (!["minScore", "rules", "tags", "entityKinds", "agentTags"].includes(k)) throw new PlaybookError(`when.${k}`, "unknown key", at("when", k)());
  const minScore = wr.minScore ?? 0;
  if (typeof minScore !== "number" || !Number.isInteger(minScore) || minScore < 0 || minScore > 100) throw new PlaybookError("when.minScore", "expected an integer 0-100", at("when", "minScore")());
  const when: PlaybookWhen = { minScore };
  if (wr.rules !== undefined) when.rules = strList(wr.rules, "when.rules", at("when", "rules"));
  if (wr.tags !== undefined) when.tags = strList(wr.tags, "when.tags", at("when", "tags")).map((t) => t.toLowerCase());
  if (wr.agentTags !== undefined) when.agentTags = strList(wr.agentTags, "when.agentTags", at("when", "agentTags"));
  if (wr.entityKinds !== undefined) {
    const kinds = strList(wr.entityKinds, "when.entityKinds", at("when", "entityKinds"));
    for (const k of kinds)
      if (!["host", "user", "ip"].includes(k)) throw new PlaybookError("when.entityKinds", `unknown entity kind ${JSON.stringify(k)}; expected host, user or ip`, at("when", "entityKinds")());
    when.entityKinds = kinds as PlaybookWhen["entityKinds"];
  }
  if (!when.rules && !when.tags && minScore === 0) throw new PlaybookError("when", "matches every alert: give minScore, rules or tags", at("when")());

  if (!Array.isArray(raw.actions) || raw.actions.length === 0 || raw.actions.length > 10) throw new PlaybookError("actions", "required: a list of 1-10 actions", at("actions")());
  const actions = raw.actions.map((a, i): PlaybookAction => {
    const field = `actions[${i}]`;
    if (!a || typeof a !== "object" || Array.isArray(a)) throw new PlaybookError(field, "expected a map with type and optional params", at("actions", i)());
    const ar = a as Record<string, unknown>;
    for (const k of Object.keys(ar)) if (k !== "type" && k !== "params") throw new PlaybookError(`${field}.${k}`, "unknown key", at("actions", i, k)());
    if (!PLAYBOOK_ACTIONS.includes(ar.type as PlaybookActionType)) throw new PlaybookError(`${field}.type`, `expected one of ${PLAYBOOK_ACTIONS.join(", ")}`, at("actions", i, "type")());
    const params = ar.params ?? {};
    if (typeof params !== "object" || Array.isArray(params)) throw new PlaybookError(`${field}.params`, "expected a map", at("actions", i, "params")());
    return { type: ar.type as PlaybookActionType, params: params as Record<string, unknown> };
  });
  return { id: raw.id, name: raw.name, enabled: raw.enabled !== false, when, actions, approval };
}

/**
 * Checked when a playbook is saved (not when stored ones are read back, so an older
 * playbook never becomes unreadable): every fixed param must be one the command takes,
 * with a valid value; and no playbook reads a file's contents: that takes a person
 * holding evidence.fetch_file and a reason of their own.
 */
export function checkPresetParams(spec: PlaybookSpec): void {
  spec.actions.forEach((a, i) => {
    if (a.type === "notify") return;
    const type = PLAYBOOK_COMMANDS.get(a.type);
    if (!type) throw new PlaybookError(`actions[${i}].type`, `not a playbook action: ${a.type}`);
    if (COMMANDS[type].readsFileContents(a.params as never))
      throw new PlaybookError(`actions[${i}].params.filePath`, "a playbook cannot fetch file contents (that needs an admin key and a reason per request); use sha256Paths to hash files");
    try {
      validatePresetParams(type, a.params);
    } catch (err) {
      if (err instanceof CommandParamError) throw new PlaybookError(`actions[${i}].params.${err.param}`, err.message.replace(/^params\.[^:]*: /, ""));
      throw err;
    }
  });
}
