import { AgentEntity } from "./agent.entity";
import { AgentCertificateEntity, AgentRevocationEntity, ApiKeyEntity, AuditRecordEntity, EnrollmentTokenEntity } from "./trust.entities";

export { AgentEntity };
export { AgentCertificateEntity, AgentRevocationEntity, ApiKeyEntity, AuditRecordEntity, EnrollmentTokenEntity };
export const entities = [AgentEntity, AuditRecordEntity, ApiKeyEntity, EnrollmentTokenEntity, AgentCertificateEntity, AgentRevocationEntity];
