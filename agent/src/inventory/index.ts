export { collectInventory, parseDpkgStatus, parsePasswdUsers } from "./collect";
export { collectInChild, InventoryReporter, type InventoryReporterOptions } from "./inventory-reporter";
