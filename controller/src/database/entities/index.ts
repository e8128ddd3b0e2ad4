import { AgentEntity } from "./agent.entity";

export { AgentEntity };
export const entities = [AgentEntity];
