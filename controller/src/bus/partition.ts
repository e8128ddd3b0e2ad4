/** The default number of partitions (VIGIL_PARTITIONS): more than the replicas a site will run, so shares stay even. */
export const DEFAULT_PARTITIONS = 16;
export const MAX_PARTITIONS = 1024;

/**
 * A stable partition for a key: FNV-1a (32-bit) over its UTF-8 bytes, modulo the count. Every
 * replica and every version computes the same answer, so the same agent (or correlation group)
 * always lands on the same partition; it must never change while data is in flight.
 */
export function partitionOf(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) throw new RangeError(`partitions must be an integer in 1..${MAX_PARTITIONS}`);
  let h = 0x811c9dc5;
  const bytes = Buffer.from(key, "utf8");
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}
