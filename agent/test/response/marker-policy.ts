import { randomUUID } from "node:crypto";

/** A local policy whose one rule fires on a process whose command line contains `marker`: kill it and isolate. */
export function markerPolicy(version: number, marker: string): Record<string, unknown> & { version: number } {
  const yaml = [
    "title: Vigil response test marker",
    `id: ${randomUUID()}`,
    "logsource: { product: linux, category: process_creation }",
    "detection:",
    "  sel:",
    `    CommandLine|contains: ${marker}`,
    "  condition: sel",
    "level: critical",
  ].join("\n");
  return {
    version,
    rules: [{ id: "marker", yaml }],
    iocs: [{ kind: "ip", value: "203.0.113.66", source: "test" }],
    actions: [{ ruleId: "marker", actions: [{ type: "kill_process" }, { type: "isolate" }] }],
  };
}
