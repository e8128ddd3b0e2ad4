/**
 * The allowed dependency order of each package, in one place. A layer is a set of top-level
 * folders (or single root files) under the package's src/; layers are listed lowest first and a
 * file may import only from its own layer or a lower one. scripts/test/import-direction.test.ts
 * reads every import and fails on one that points up, and on any import cycle between files.
 * docs/architecture.md explains what each layer owns.
 */
export interface Layer {
  name: string;
  /** Top-level folders ("detection") or root files ("main.ts") under src/. */
  members: readonly string[];
}

export interface PackageLayers {
  /** The package's source root, relative to the repository root. */
  root: string;
  layers: readonly Layer[];
}

export const CONTROLLER: PackageLayers = {
  root: "controller/src",
  layers: [
    { name: "platform", members: ["version.ts", "http", "config", "logging", "crypto"] },
    { name: "database", members: ["database", "bus"] },
    { name: "trust", members: ["audit", "trust", "auth"] },
    { name: "ingest", members: ["ingest", "agents", "retention"] },
    { name: "detection", members: ["detection", "sigmahq"] },
    { name: "alerts", members: ["risk", "alerts"] },
    { name: "cases", members: ["cases"] },
    { name: "response", members: ["commands", "playbooks", "policy"] },
    { name: "integrations", members: ["integrations", "webhooks", "stream", "metrics"] },
    { name: "edge", members: ["api", "transport", "install"] },
    { name: "app", members: ["app"] },
    { name: "cli", members: ["cli", "main.ts"] },
  ],
};

export const AGENT: PackageLayers = {
  root: "agent/src",
  layers: [
    { name: "platform", members: ["version.ts", "util", "platform"] },
    { name: "sensors", members: ["sensors"] },
    { name: "config", members: ["config"] },
    { name: "spool", members: ["spool"] },
    { name: "pipeline", members: ["pipeline"] },
    { name: "transport", members: ["transport"] },
    { name: "inventory", members: ["inventory"] },
    { name: "enforcement", members: ["enforcement"] },
    { name: "commands", members: ["commands"] },
    { name: "policy", members: ["policy"] },
    { name: "watchdog", members: ["watchdog"] },
    { name: "runtime", members: ["runtime"] },
    { name: "enroll", members: ["enroll"] },
    { name: "main", members: ["main.ts", "entry.ts", "heap-tuning.ts", "parse-command.ts"] },
  ],
};

/**
 * The controller's persistence layer: services and controllers reach the database only through
 * repositories in database/. app/ and cli/ are composition roots: they open the DataSource and hand
 * repositories out. `pending` lists files elsewhere that still import TypeORM or write SQL (none
 * now); it may only shrink (the test fails on a file not on it, and on one that no longer needs to be).
 */
export const CONTROLLER_PERSISTENCE = {
  home: "database",
  /** Composition roots: they open the DataSource and hand each capability its repositories. */
  compositionRoots: ["app", "cli"] as readonly string[],
  pending: [] as readonly string[],
};
