import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMMANDS, COMMAND_TYPES, type CommandSpec, type CommandType, LOCAL_POLICY_TYPES, allCommandParamsJsonSchemas } from "@vigil/proto";
import { afterAll, describe, expect, it } from "vitest";
import { createEnforcement } from "../../../agent/src/enforcement/enforcement";
import { LOCAL_ACTION_TYPES } from "../../../agent/src/policy/policy-document";
import { PLAYBOOK_ACTIONS } from "../../src/playbooks/playbook-schema";

/**
 * A command type exists in four places that must name the same set: the proto's
 * Command.params oneof (the wire), the shared definition table (COMMANDS), the agent's
 * handlers (what can run) and, through each spec's playbookAction, the playbook actions.
 * Adding a type on one side only fails here.
 */

/** The oneof's fields as the .proto declares them (snake_case field name → field number). */
function protoOneofFields(): Map<string, number> {
  const text = readFileSync(join(__dirname, "../../../proto/vigil/v1/agent.proto"), "utf8");
  const command = /message Command \{([\s\S]*?)\n\}/.exec(text)?.[1] ?? "";
  const oneof = /oneof params \{([^}]*)\}/.exec(command)?.[1] ?? "";
  return new Map([...oneof.matchAll(/^\s*\w+\s+(\w+)\s*=\s*(\d+);/gm)].map((m) => [m[1], Number(m[2])]));
}

/** ts-proto's case name for a proto field: its camelCase. */
const camel = (snake: string): string => snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/**
 * The named sets that must be equal, and each entry's differences (empty when they agree).
 * Pure, so the test below can show it reports a type present on one side only.
 */
function commandSetMismatches(sets: Record<string, Iterable<string>>): string[] {
  const named = Object.entries(sets).map(([name, s]) => [name, new Set(s)] as const);
  const all = new Set(named.flatMap(([, s]) => [...s]));
  const out: string[] = [];
  for (const t of [...all].sort()) {
    const missing = named.filter(([, s]) => !s.has(t)).map(([name]) => name);
    if (missing.length) out.push(`${t}: missing from ${missing.join(", ")}`);
  }
  return out;
}

const stateDir = mkdtempSync(join(tmpdir(), "vigil-contract-"));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));
const agentHandlerTypes = createEnforcement({
  stateDir,
  isolationPolicy: () => ({ controller: { addresses: [], port: 1 }, allowCidrs: [], dnsServers: [], allowDhcp: false }),
  checkControllerReachable: async () => Promise.resolve(true),
}).handlers.map((h) => h.type);

describe("one command contract: proto, shared table, agent handlers, playbooks", () => {
  const spec = (t: CommandType): CommandSpec<CommandType> => COMMANDS[t] as unknown as CommandSpec<CommandType>;
  const oneof = protoOneofFields();

  it("the proto oneof, the shared table and the agent's handlers name the same command types", () => {
    expect(oneof.size).toBeGreaterThan(0);
    expect(commandSetMismatches({ "proto Command.params": oneof.keys(), COMMANDS: COMMAND_TYPES, "agent handlers": agentHandlerTypes })).toEqual([]);
    // Each spec's case is the one ts-proto generates for its field (camelCase of the snake_case name).
    for (const t of COMMAND_TYPES) expect(spec(t).oneofCase, t).toBe(camel(t));
  });

  it("every playbook action is a command in the table (or notify), and every command's playbook action is offered", () => {
    const fromTable = COMMAND_TYPES.flatMap((t) => spec(t).playbookAction ?? []);
    expect(commandSetMismatches({ "playbook actions": PLAYBOOK_ACTIONS.filter((a) => a !== "notify"), "COMMANDS playbookAction": fromTable })).toEqual([]);
    for (const a of fromTable) expect(COMMAND_TYPES.some((t) => spec(t).playbookAction === a)).toBe(true);
  });

  it("every type decides local policy, undo and playbook explicitly, and undo names a real command that local policy cannot run", () => {
    for (const t of COMMAND_TYPES) {
      const s = spec(t);
      expect(typeof s.localPolicy, `${t}.localPolicy`).toBe("boolean");
      expect("undo" in s && (s.undo === null || typeof s.undo === "object"), `${t}.undo`).toBe(true);
      expect("playbookAction" in s && (s.playbookAction === null || typeof s.playbookAction === "string"), `${t}.playbookAction`).toBe(true);
      expect(s.fields.length, `${t}.fields`).toBeGreaterThan(0);
      // Lifting containment is an analyst's: an undo is never something local policy may do by itself.
      if (s.undo) expect({ type: s.undo.type, known: COMMAND_TYPES.includes(s.undo.type), local: spec(s.undo.type).localPolicy }).toEqual({ type: s.undo.type, known: true, local: false });
    }
    expect([...LOCAL_ACTION_TYPES].sort()).toEqual([...LOCAL_POLICY_TYPES].sort());
    expect([...LOCAL_POLICY_TYPES].sort()).toEqual(["block_ip", "isolate", "kill_process"]);
  });

  it("the comparison reports a type added on one side only (so the checks above can fail)", () => {
    expect(commandSetMismatches({ proto: ["isolate", "release"], table: ["isolate", "release"] })).toEqual([]);
    expect(commandSetMismatches({ "proto Command.params": oneof.keys(), COMMANDS: [...COMMAND_TYPES, "wipe_disk"], "agent handlers": agentHandlerTypes })).toEqual([
      "wipe_disk: missing from proto Command.params, agent handlers",
    ]);
    expect(commandSetMismatches({ "proto Command.params": oneof.keys(), COMMANDS: COMMAND_TYPES, "agent handlers": agentHandlerTypes.filter((t) => t !== "release") })).toEqual([
      "release: missing from agent handlers",
    ]);
  });

  it("exports a JSON schema per type with the contract's bounds (for the API document)", () => {
    const schemas = allCommandParamsJsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual([...COMMAND_TYPES].sort());
    expect(schemas.kill_process).toMatchObject({ type: "object", additionalProperties: false, required: ["pid"], properties: { pid: { type: "integer", minimum: 2, maximum: 4_194_304 } } });
    expect(schemas.collect_evidence).toMatchObject({ properties: { fileMaxBytes: { maximum: 1024 * 1024 }, sha256Paths: { type: "array", maxItems: 64 } } });
  });
});
