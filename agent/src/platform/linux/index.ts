export * from "./procfs";
export * from "./processes";
export * from "./users";
export * from "./file-hasher";
export * from "./host-facts";
export * from "./proc-net";
export * from "./cgroup-layout";
export * from "./cgroup-directory";
