import type { DataSource } from "typeorm";
import type { AgentRegistry } from "../agents/agent-registry";
import type { ControllerConfig } from "../config/config";
import type { CommandSigner } from "../crypto/signing-key";
import { SqlCommandRepository } from "../database/repositories/command-repository";
import { PlaybookRepository } from "../database/repositories/playbook-repository";
import { PolicyRepository } from "../database/repositories/policy-repository";
import { CommandService, type AuditSink } from "../commands/command-service";
import type { RemoteDelivery } from "../agents/agent-relay";
import { grantsWith } from "../http/roles";
import { CaseActions } from "../playbooks/case-actions";
import { PlaybookService } from "../playbooks/playbook-service";
import type { PolicyIocSource } from "../policy/policy-document";
import { PolicyService } from "../policy/policy-service";

/** Signed commands, playbooks and the agents' local policy. */
export interface Response {
  signer: CommandSigner;
  commands: CommandService;
  playbooks: PlaybookService;
  /** Response's view of a case (commands, playbook decisions, evidence): triage shows it in the case story. */
  caseActions: CaseActions;
}

/**
 * Builds commands and playbooks before triage, which is handed `caseActions` at construction
 * (no late wiring). The command key (signer) is made by the caller: the trust layer announces it too.
 */
export async function createResponse(
  config: ControllerConfig,
  ds: DataSource,
  registry: AgentRegistry,
  signer: CommandSigner,
  audit: AuditSink | undefined,
  /** Distributed mode: reaches agents whose streams other replicas hold. */
  remote?: RemoteDelivery,
): Promise<Response> {
  const commands = new CommandService(SqlCommandRepository.of(ds), registry, signer, audit, undefined, grantsWith(config.evidenceFileRoles), remote);
  const playbooks = new PlaybookService(PlaybookRepository.of(ds), commands, async (agentId) => (await registry.get(agentId))?.tags ?? [], config.guardRails, audit);
  await playbooks.load();
  return { signer, commands, playbooks, caseActions: new CaseActions(commands, playbooks) };
}

/**
 * The agents' policy document: rules, presets and the IOC catalog, signed. Built once detection
 * is up, since the IOCs it carries are detection's; their changes rebuild the document.
 */
export function createAgentPolicy(
  ds: DataSource,
  registry: AgentRegistry,
  signer: CommandSigner,
  iocs: PolicyIocSource & { onChange(l: () => void): void },
  audit: AuditSink | undefined,
  warn: (msg: string, fields: Record<string, unknown>) => void,
): PolicyService {
  const policy = new PolicyService(PolicyRepository.of(ds), registry, signer, undefined, audit, Date.now, warn);
  policy.useIocs(iocs);
  return policy;
}
