import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";

/** The read must start over from the committed offset (a delivery gap, or consume() ended by itself). */
export class ReadRestart extends Error {}

export interface PartitionReadSpec {
  stream: string;
  /** The durable consumer's name: deleted and made again at each (re)start. */
  durable: string;
  filter: string;
  /** The last stream sequence already handled (the committed offset): delivery starts after it. */
  after: number;
  /** Messages per gathered batch; the server lets out at most four times that unacked. */
  max: number;
}

/** What the reading loop shares with whoever stops it. */
export interface ReaderControl {
  stopping: boolean;
  /** Set while reading: ends the running consume() so a stop does not wait for the next message. */
  halt?: () => void;
}

/** How long a gathered batch waits for one more message before it is handed on. */
const GATHER_MS = 5;

function sleep(ms: number): Promise<undefined> {
  return new Promise((r) => setTimeout(() => r(undefined), ms));
}

/**
 * Reads one partition of a stream in stream order from a committed offset, for a consumer that
 * keeps its offset itself (in the database, beside what it wrote): the durable consumer is made
 * again at `after + 1` on every start, so a message is never skipped and a redelivery is known by
 * its stream sequence. Whatever has arrived when no next message is ready within a moment is
 * handed to `onBatch` as one batch (up to `max`), and the next batch is read only once `onBatch`
 * has returned. Returns when `ctl.stopping` is set; throws ReadRestart when messages were
 * delivered that this loop never received, or when the consume() ended by itself. Messages
 * received but not handed on are delivered again to whoever reads next from the offset.
 */
export async function readPartition(
  js: JetStreamClient,
  jsm: JetStreamManager,
  spec: PartitionReadSpec,
  ctl: ReaderControl,
  onBatch: (msgs: JsMsg[]) => Promise<void>,
  onWaiting?: () => void,
): Promise<void> {
  await jsm.consumers.delete(spec.stream, spec.durable).catch(() => undefined);
  await jsm.consumers.add(spec.stream, {
    durable_name: spec.durable,
    filter_subject: spec.filter,
    ack_policy: AckPolicy.Explicit,
    ...(spec.after > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: spec.after + 1 } : { deliver_policy: DeliverPolicy.All }),
    ack_wait: 120_000_000_000,
    max_ack_pending: 4 * spec.max,
    max_deliver: -1,
  });
  const consumer = await js.consumers.get(spec.stream, spec.durable);
  // consume() keeps pulls in flight; the iterator's getPending() cannot say when the buffer ran
  // dry (it over-counts after status callbacks, and a quiet partition would then hold its last
  // messages), so a short wait for the next message decides it.
  const it = await consumer.consume({ max_messages: spec.max });
  ctl.halt = () => void it.stop();
  if (ctl.stopping) it.stop();
  let delivered = 0;
  let msgs: JsMsg[] = [];
  const iter = it[Symbol.asyncIterator]();
  try {
    // A read still awaited when the loop ends may fail with the iterator: never an unhandled rejection.
    const read = () => {
      const next = iter.next();
      next.catch(() => undefined);
      return next;
    };
    let pending = read();
    for (;;) {
      onWaiting?.();
      const r = msgs.length ? await Promise.race([pending, sleep(GATHER_MS)]) : await pending;
      if (r === undefined) {
        // Nothing more ready: hand on what has gathered; the next message is still awaited.
        await onBatch(msgs);
        msgs = [];
        continue;
      }
      if (r.done || ctl.stopping) break;
      const m = r.value;
      if (m.info.deliverySequence !== delivered + 1) throw new ReadRestart("delivery sequence jumped");
      delivered = m.info.deliverySequence;
      msgs.push(m);
      pending = read();
      if (msgs.length < spec.max) continue;
      await onBatch(msgs);
      msgs = [];
    }
  } finally {
    ctl.halt = undefined;
    it.stop();
  }
  if (!ctl.stopping) throw new ReadRestart("consumer ended");
}

/** A pause before a partition's read starts over, cut short when the partition is stopped. */
export function sleepUnlessStopping(ctl: { stopping: boolean }, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const tick = () => (ctl.stopping || Date.now() - started >= ms ? resolve() : setTimeout(tick, 50).unref());
    tick();
  });
}

/**
 * A partition's loop: runs `round` (a read from the committed offset) until the partition is
 * stopped, and after each failure tells `failed` (which counts and logs it) and pauses before the
 * next round, so a database or NATS outage costs a retry every `retryMs`, not a busy loop.
 */
export async function readUntilStopped(ctl: { stopping: boolean }, round: () => Promise<void>, failed: (err: unknown) => void, retryMs: number): Promise<void> {
  while (!ctl.stopping) {
    try {
      await round();
    } catch (err) {
      if (ctl.stopping) break;
      failed(err);
      await sleepUnlessStopping(ctl, retryMs);
    }
  }
}
