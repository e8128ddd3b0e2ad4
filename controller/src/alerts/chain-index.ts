import { entityKey, type EntityRef, type RelatedAlert } from "@vigil/detection";

interface Entry extends RelatedAlert {
  insertedAt: number;
}

/**
 * Recent alerts by entity, for the chaining factor of the score. In memory and bounded twice:
 * entries older than `retainMs` of wall-clock time go (event times are compared by the scorer's
 * own window, so a replayed backlog still chains with itself), and each entity keeps at most
 * `perEntity` entries.
 */
export class ChainIndex {
  private readonly byEntity = new Map<string, Entry[]>();
  private inserts = 0;

  constructor(
    private readonly retainMs = 6 * 60 * 60 * 1000,
    private readonly perEntity = 64,
    private readonly now: () => number = Date.now,
  ) {}

  add(alert: RelatedAlert): void {
    const e: Entry = { ...alert, insertedAt: this.now() };
    for (const k of new Set(alert.entities.map(entityKey))) {
      const list = this.byEntity.get(k) ?? [];
      list.push(e);
      if (list.length > this.perEntity) list.shift();
      this.byEntity.set(k, list);
    }
    if (++this.inserts % 1000 === 0) this.prune();
  }

  related(entities: readonly EntityRef[]): RelatedAlert[] {
    const out = new Set<Entry>();
    const cutoff = this.now() - this.retainMs;
    for (const ent of entities) for (const e of this.byEntity.get(entityKey(ent)) ?? []) if (e.insertedAt >= cutoff) out.add(e);
    return [...out];
  }

  get size(): number {
    return this.byEntity.size;
  }

  private prune(): void {
    const cutoff = this.now() - this.retainMs;
    for (const [k, list] of this.byEntity) {
      const kept = list.filter((e) => e.insertedAt >= cutoff);
      if (kept.length === 0) this.byEntity.delete(k);
      else if (kept.length !== list.length) this.byEntity.set(k, kept);
    }
  }
}
