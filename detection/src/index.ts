export * from "./sigma";
export * from "./ioc";
export * from "./scoring";
export * from "./noise";
export * from "./net";
