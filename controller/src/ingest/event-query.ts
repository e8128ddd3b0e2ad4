import type { EventQuery, EventStore, StoredEvent } from "../database/repositories/event-store";

export type { EventQuery, StoredEvent };

/** Where the next page starts: strictly after this (eventTime, id). */
export interface EventPosition {
  eventTime: number;
  id: number;
}

export interface EventPage {
  items: StoredEvent[];
  /** Set when the page is full, so there may be more. */
  next: EventPosition | null;
}

/** Reading stored telemetry a page at a time, newest first: what the events API serves. */
export class EventQueryService {
  constructor(private readonly store: Pick<EventStore, "query">) {}

  async page(f: EventQuery): Promise<EventPage> {
    const items = await this.store.query(f);
    const last = items.at(-1);
    return { items, next: items.length === f.limit && last ? { eventTime: last.eventTime, id: last.id } : null };
  }
}
