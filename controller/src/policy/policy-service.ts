import type { AgentRegistry } from "../agents/agent-registry";
import type { AuditSink } from "../commands/command-service";
import type { CommandSigner } from "../crypto/signing-key";
import type { PolicyRepository } from "../database/repositories/policy-repository";
import { policyMessages } from "./policy-delivery";
import { buildPolicyDocument, type BuiltPolicy, type IocDelivery, type PolicyIocSource } from "./policy-document";
import { builtinRuleText, validatePolicySpec, type AgentPolicySpec } from "./policy-spec";

const EMPTY: AgentPolicySpec = { rules: [], includeIocs: false, actions: [] };
const NO_IOCS: PolicyIocSource = { countLive: async () => 0, async *bestFirst() {} };

export interface PolicyDeliveryState {
  /** Bytes of policy_json as agents receive it, and in how many messages. */
  bytes: number;
  messages: number;
  sha256: string;
  iocs: IocDelivery | null;
}

/**
 * The local policy agents enforce on their own, also while disconnected:
 * rules + IOCs + actions, signed per agent and pushed on change and on connect.
 * The document is built once per change (policy or IOC catalog) and shared by every push.
 */
export class PolicyService {
  private built?: { key: number; doc: Promise<BuiltPolicy> };
  private lastIocs?: IocDelivery;
  /** Bumped by every change that alters the document (a new version, an IOC import). */
  private generation = 0;
  private readonly changeListeners: Array<() => void> = [];

  constructor(
    private readonly repo: PolicyRepository,
    private readonly registry: AgentRegistry,
    private readonly signer: CommandSigner,
    private iocs: PolicyIocSource = NO_IOCS,
    private readonly audit?: AuditSink,
    private readonly now: () => number = Date.now,
    private readonly warn: (msg: string, fields: Record<string, unknown>) => void = () => undefined,
  ) {}

  /** The IOC catalog, once detection is up; its changes rebuild the document on the next push. */
  useIocs(iocs: PolicyIocSource & { onChange(l: () => void): void }): void {
    this.iocs = iocs;
    iocs.onChange(() => this.invalidate());
    this.invalidate();
  }

  invalidate(): void {
    this.generation++;
  }

  /** A new version was stored here (other replicas catch up). */
  onChanged(l: () => void): void {
    this.changeListeners.push(l);
  }

  /**
   * Distributed mode: another replica may have stored a newer version than the document built
   * here. If so it is rebuilt and pushed to the agents this replica holds; true when it was.
   */
  async catchUp(): Promise<boolean> {
    const { version } = await this.current();
    const built = this.built ? await this.built.doc.catch(() => undefined) : undefined;
    if (built?.version === version) return false;
    this.invalidate();
    await this.pushAll();
    return true;
  }

  async current(): Promise<{ version: number; spec: AgentPolicySpec; updatedAt: number | null; updatedBy: string | null }> {
    const row = await this.repo.current();
    if (!row) return { version: 0, spec: EMPTY, updatedAt: null, updatedBy: null };
    return { version: row.version, spec: JSON.parse(row.specJson) as AgentPolicySpec, updatedAt: row.updatedAt, updatedBy: row.updatedBy };
  }

  /** Validates and stores a new version, then pushes it to every connected agent. Throws PolicySpecError. */
  async update(raw: unknown, actor: string): Promise<{ version: number; spec: AgentPolicySpec }> {
    const spec = validatePolicySpec(raw);
    const prev = await this.current();
    const version = prev.version + 1;
    await this.repo.store({ version, specJson: JSON.stringify(spec), updatedAt: this.now(), updatedBy: actor.slice(0, 128) });
    this.invalidate();
    await this.audit?.append({ actor, action: "policy.updated", target: "agents", details: { version, rules: spec.rules.map((r) => r.id), actions: spec.actions.length } });
    for (const l of this.changeListeners) l();
    await this.pushAll();
    return { version, spec };
  }

  /** The policy document as agents receive it (rules resolved to YAML, IOCs as sets), built once per change. */
  document(): Promise<BuiltPolicy> {
    const key = this.generation;
    if (this.built?.key !== key) {
      const doc = this.build();
      this.built = { key, doc };
      // A failed build is not cached: the next push tries again.
      doc.catch(() => {
        if (this.built?.doc === doc) this.built = undefined;
      });
    }
    return this.built!.doc;
  }

  /** What agents receive now: size, messages, and how much of the IOC catalog made it in. */
  async delivery(): Promise<PolicyDeliveryState | null> {
    const doc = await this.document();
    if (doc.version === 0) return null;
    return { bytes: doc.bytes.length, messages: policyMessages(doc, "-", () => Buffer.alloc(0), 0).length, sha256: doc.digest, iocs: doc.iocs };
  }

  /** How much of the IOC catalog the last built policy carries (for metrics; builds nothing). */
  lastIocDelivery(): IocDelivery | undefined {
    return this.lastIocs;
  }

  async pushTo(agentId: string): Promise<void> {
    const doc = await this.document();
    if (doc.version === 0) return;
    const session = this.registry.session(agentId);
    if (session) for (const m of policyMessages(doc, agentId, (p) => this.signer.sign(p), this.now())) session.send(m);
  }

  async pushAll(): Promise<void> {
    const doc = await this.document();
    if (doc.version === 0) return;
    for (const a of await this.registry.list()) {
      const s = this.registry.session(a.id);
      if (!s) continue;
      for (const m of policyMessages(doc, a.id, (p) => this.signer.sign(p), this.now())) s.send(m);
      // Each agent's share of a multi-megabyte policy is serialised on send: hand the thread back between agents.
      await new Promise((r) => setImmediate(r));
    }
  }

  private async build(): Promise<BuiltPolicy> {
    const { version, spec } = await this.current();
    const doc = await buildPolicyDocument(version, spec, (id) => builtinRuleText(id) ?? "", this.iocs);
    this.lastIocs = doc.iocs ?? undefined;
    if (doc.iocs?.leftOut) this.warn("agent policy carries only part of the IOC catalog", { version, shipped: doc.iocs.shipped, leftOut: doc.iocs.leftOut, limitedBy: doc.iocs.limitedBy });
    return doc;
  }
}
