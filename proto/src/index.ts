export * from "./gen/vigil/v1/events";
export * from "./gen/vigil/v1/agent";
export * from "./limits";
export * from "./command-limits";
export * from "./signing";
export * from "./gen/vigil/v1/enrollment";
export * from "./secrets";
export * from "./commands";
