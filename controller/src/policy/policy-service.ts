import type { Repository } from "typeorm";
import { policySigningPayload, type PolicyUpdate } from "@vigil/proto";
import type { Ioc } from "@vigil/detection";
import type { AgentRegistry } from "../agents/agent-registry";
import type { AuditSink } from "../commands/command-service";
import type { CommandSigner } from "../crypto/signing-key";
import type { AgentPolicyEntity } from "./policy.entity";
import { builtinRuleText, validatePolicySpec, type AgentPolicySpec } from "./policy-spec";

const EMPTY: AgentPolicySpec = { rules: [], includeIocs: false, actions: [] };

/**
 * The local policy agents enforce on their own, also while disconnected:
 * rules + IOCs + actions, signed per agent and pushed on change and on connect.
 */
export class PolicyService {
  constructor(
    private readonly repo: Repository<AgentPolicyEntity>,
    private readonly registry: AgentRegistry,
    private readonly signer: CommandSigner,
    private readonly iocs: () => Promise<Ioc[]>,
    private readonly audit?: AuditSink,
    private readonly now: () => number = Date.now,
  ) {}

  async current(): Promise<{ version: number; spec: AgentPolicySpec; updatedAt: number | null; updatedBy: string | null }> {
    const row = await this.repo.findOneBy({ id: 1 });
    if (!row) return { version: 0, spec: EMPTY, updatedAt: null, updatedBy: null };
    return { version: row.version, spec: JSON.parse(row.specJson) as AgentPolicySpec, updatedAt: row.updatedAt, updatedBy: row.updatedBy };
  }

  /** Validates and stores a new version, then pushes it to every connected agent. Throws PolicySpecError. */
  async update(raw: unknown, actor: string): Promise<{ version: number; spec: AgentPolicySpec }> {
    const spec = validatePolicySpec(raw);
    const prev = await this.current();
    const version = prev.version + 1;
    await this.repo.save(this.repo.create({ id: 1, version, specJson: JSON.stringify(spec), updatedAt: this.now(), updatedBy: actor.slice(0, 128) }));
    await this.audit?.append({ actor, action: "policy.updated", target: "agents", details: { version, rules: spec.rules.map((r) => r.id), actions: spec.actions.length } });
    await this.pushAll();
    return { version, spec };
  }

  /** The policy document as agents receive it (rules resolved to YAML, IOCs inlined). */
  async document(): Promise<{ version: number; json: string }> {
    const { version, spec } = await this.current();
    const rules = spec.rules.map((r) => ({ id: r.id, yaml: r.yaml ?? builtinRuleText(r.id) ?? "" }));
    const iocs = spec.includeIocs ? (await this.iocs()).map((i) => ({ kind: i.kind, value: i.value, confidence: i.confidence, source: i.source })) : [];
    return { version, json: JSON.stringify({ version, rules, iocs, actions: spec.actions }) };
  }

  signedFor(agentId: string, doc: { version: number; json: string }): PolicyUpdate {
    const unsigned = { version: doc.version, policyJson: doc.json, issuedAtMs: this.now() };
    return { ...unsigned, signature: this.signer.sign(policySigningPayload(unsigned, agentId)) };
  }

  async pushTo(agentId: string): Promise<void> {
    const doc = await this.document();
    if (doc.version === 0) return;
    this.registry.session(agentId)?.send({ msg: { $case: "policy", policy: this.signedFor(agentId, doc) } });
  }

  async pushAll(): Promise<void> {
    const doc = await this.document();
    if (doc.version === 0) return;
    for (const a of await this.registry.list()) {
      const s = this.registry.session(a.id);
      if (s) s.send({ msg: { $case: "policy", policy: this.signedFor(a.id, doc) } });
    }
  }
}
