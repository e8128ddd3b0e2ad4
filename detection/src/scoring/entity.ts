/** The things an alert can be about, and that carry risk and baselines. */
export type EntityKind = "host" | "user" | "ip";

export interface EntityRef {
  kind: EntityKind;
  /** Agent id for hosts, user name, canonical IP text. */
  id: string;
}

/** Stable string key ("user:root"), used for maps, dedup keys and feedback weights. */
export function entityKey(e: EntityRef): string {
  return `${e.kind}:${e.id}`;
}

export function sameEntity(a: EntityRef, b: EntityRef): boolean {
  return a.kind === b.kind && a.id === b.id;
}
