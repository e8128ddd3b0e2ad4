import type { EntityRef } from "@vigil/detection";
import type { Stmt } from "../database/sql-batch";

/** What a case needs to know about a new alert. */
export interface CaseAlert {
  id: string;
  ruleTitle: string;
  hostname: string;
  agentId: string;
  score: number;
  entities: EntityRef[];
  firstSeenMs: number;
  timeMs: number;
}

/**
 * What the alert service needs of case chaining (CaseService implements it). Declared here so that
 * alerts stay below cases: a case reads its alerts, an alert only hands itself over to be chained.
 */
export interface CaseChaining {
  /** Picks or opens the case for a new alert; returns its id. Persisted by takeWrites(). */
  attach(a: CaseAlert): string;
  /** The chunk's case writes, committed with its alerts. */
  takeWrites(): Stmt[];
  /** Called once the writes from takeWrites() committed. */
  announceCommitted(): void;
  onResolved(l: (caseId: string) => void): void;
}
