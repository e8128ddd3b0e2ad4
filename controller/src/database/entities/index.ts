import { AlertEntity, AlertFeedbackEntity, FeedbackWeightEntity, SuppressionEntity } from "../../alerts/alert.entity";
import { CaseEntity } from "../../cases/case.entity";
import { IocEntity, LoginBaselineEntity, RuleSettingEntity, RuleSourceEntity } from "../../detection/detection.entities";
import { EntityRiskEntity } from "../../entities/entity-risk.entity";
import { AgentEntity } from "./agent.entity";
import { webhookEntities } from "../../webhooks/webhook.entities";
import { CommandEntity, type CommandState } from "./command.entity";
import { ActionLogEntity } from "./action-log.entity";
import { playbookEntities } from "../../playbooks/playbook.entities";
import { AgentPolicyEntity } from "../../policy/policy.entity";
import { AgentCertificateEntity, AgentRevocationEntity, ApiKeyEntity, AuditRecordEntity, EnrollmentTokenEntity } from "./trust.entities";

export { AgentEntity, CommandEntity, ActionLogEntity };
export type { CommandState };
export { AgentCertificateEntity, AgentRevocationEntity, ApiKeyEntity, AuditRecordEntity, EnrollmentTokenEntity };
export const entities = [AgentEntity, CommandEntity, ActionLogEntity, ...playbookEntities, AgentPolicyEntity, AuditRecordEntity, ApiKeyEntity, EnrollmentTokenEntity, AgentCertificateEntity, AgentRevocationEntity,
  AlertEntity, AlertFeedbackEntity, FeedbackWeightEntity, SuppressionEntity, CaseEntity, IocEntity, LoginBaselineEntity, RuleSettingEntity, RuleSourceEntity, EntityRiskEntity, ...webhookEntities];
