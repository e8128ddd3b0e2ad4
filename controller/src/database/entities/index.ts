import { AlertEntity, AlertFeedbackEntity, FeedbackWeightEntity, SuppressionEntity } from "./alert.entity";
import { CaseEntity } from "./case.entity";
import { IocEntity, LoginBaselineEntity, RuleSettingEntity, RuleSourceEntity } from "./detection.entities";
import { EntityRiskEntity } from "./entity-risk.entity";
import { AgentEntity } from "./agent.entity";
import { webhookEntities } from "./webhook.entities";
import { CommandEntity, type CommandState } from "./command.entity";
import { ActionLogEntity } from "./action-log.entity";
import { playbookEntities } from "./playbook.entities";
import { AgentPolicyEntity } from "./policy.entity";
import { AgentCertificateEntity, AgentRevocationEntity, ApiKeyEntity, AuditRecordEntity, EnrollmentTokenEntity } from "./trust.entities";

export { AgentEntity, CommandEntity, ActionLogEntity };
export type { CommandState };
export { AgentCertificateEntity, AgentRevocationEntity, ApiKeyEntity, AuditRecordEntity, EnrollmentTokenEntity };
export const entities = [
  AgentEntity,
  CommandEntity,
  ActionLogEntity,
  ...playbookEntities,
  AgentPolicyEntity,
  AuditRecordEntity,
  ApiKeyEntity,
  EnrollmentTokenEntity,
  AgentCertificateEntity,
  AgentRevocationEntity,
  AlertEntity,
  AlertFeedbackEntity,
  FeedbackWeightEntity,
  SuppressionEntity,
  CaseEntity,
  IocEntity,
  LoginBaselineEntity,
  RuleSettingEntity,
  RuleSourceEntity,
  EntityRiskEntity,
  ...webhookEntities,
];
