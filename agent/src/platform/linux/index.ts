export * from "./procfs";
export * from "./processes";
export * from "./users";
export * from "./file-hasher";
export * from "./host-facts";
export * from "./proc-net";
