import type { Event } from "@vigil/proto";

/** The typed body of an event, without the seq the pipeline assigns. */
export type EventBody = NonNullable<Event["body"]>;

export interface EventSink {
  /** Hands one observation to the pipeline. Never blocks; the pipeline spools. */
  emit(body: EventBody, eventTimeMs: number): void;
  /**
   * True while the spool is full under `spool_full_policy: block` and events wait in memory:
   * a sensor that can pace itself (it reads from a file or a counter, not a kernel stream)
   * should emit nothing until it clears. Absent or false: emit freely.
   */
  readonly congested?: boolean;
}

export interface SensorHealth {
  name: string;
  running: boolean;
  /** What the sensor sees and from where, and what it misses (e.g. "not root: /var/log/auth.log unreadable"). */
  detail: string;
  events: number;
  errors: number;
}

/**
 * Every collector implements this, so the agent can start, stop and report on
 * them uniformly and tests can plug in fakes.
 */
export interface Sensor {
  readonly name: string;
  start(sink: EventSink): Promise<void>;
  stop(): Promise<void>;
  health(): SensorHealth;
}

/** Counts a sensor keeps; embed one and expose it from health(). */
export class SensorCounters {
  events = 0;
  errors = 0;
  detail = "";
  running = false;
  snapshot(name: string): SensorHealth {
    return { name, running: this.running, detail: this.detail, events: this.events, errors: this.errors };
  }
}
