import type { EventBody, EventSink } from "../../../src/sensors/sensor";

/** A sink that keeps every event, for tests of any sensor. */
export class RecordingSink implements EventSink {
  readonly events: { body: EventBody; timeMs: number }[] = [];
  emit(body: EventBody, eventTimeMs: number): void {
    this.events.push({ body, timeMs: eventTimeMs });
  }
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
