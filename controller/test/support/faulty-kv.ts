import type { KV } from "@nats-io/kv";

/** A KV operation as the lease code sees it: its method name and the key it touches ("" for listings). */
export interface KvCall {
  op: string;
  key: string;
}

/**
 * Faults a test switches on and off while the real NATS KV underneath keeps working. Every fault
 * acts on the *reply*: the request has reached the server and done its work (a write has landed)
 * before the caller is kept waiting or told it failed, as with a slow or lossy network path back.
 */
export interface KvFaults {
  /** Extra time before the reply is handed to the caller (0 or undefined: none). */
  replyDelayMs?: (call: KvCall) => number | undefined;
  /** The reply is lost after the operation took effect: the caller gets a timeout error instead. */
  dropReply?: (call: KvCall) => boolean;
  /**
   * keys() yields every key twice, as the real listing does for a key rewritten while it is being
   * listed (seen with heartbeats every few ms), without depending on the timing to happen.
   */
  repeatListedKeys?: boolean;
}

export interface FaultyKv {
  kv: KV;
  faults: KvFaults;
  /** Replies dropped so far, by operation. */
  dropped: Map<string, number>;
}

/**
 * Wraps a real KV so tests can delay or drop replies of chosen operations. Only promise-returning
 * methods are touched; the listing's iterator (keys) is delayed as a whole, like one slow reply.
 */
export function faultyKv(kv: KV, faults: KvFaults = {}): FaultyKv {
  const out: FaultyKv = { kv: undefined as unknown as KV, faults, dropped: new Map() };
  out.kv = new Proxy(kv, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv) as unknown;
      if (typeof v !== "function" || typeof prop !== "string") return v;
      return async (...args: unknown[]) => {
        const call: KvCall = { op: prop, key: typeof args[0] === "string" ? args[0] : "" };
        // Settled first: the server has answered (a write landed or was refused) before any fault applies.
        const settled = await Promise.resolve()
          .then(() => (v as (...a: unknown[]) => unknown).apply(target, args))
          .then(
            (value) => ({ ok: true as const, value }),
            (error: unknown) => ({ ok: false as const, error }),
          );
        const delay = out.faults.replyDelayMs?.(call) ?? 0;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (settled.ok && out.faults.dropReply?.(call)) {
          out.dropped.set(prop, (out.dropped.get(prop) ?? 0) + 1);
          throw new Error("TIMEOUT (reply dropped by the test after the operation took effect)");
        }
        if (!settled.ok) throw settled.error;
        if (prop === "keys" && out.faults.repeatListedKeys) return repeated(settled.value as AsyncIterable<string> & { stop(): void });
        return settled.value;
      };
    },
  });
  return out;
}

/** A listing that yields each key of `it` twice in a row; stop() stops the real one. */
function repeated(it: AsyncIterable<string> & { stop(): void }): AsyncIterable<string> & { stop(): void } {
  return {
    stop: () => it.stop(),
    async *[Symbol.asyncIterator]() {
      for await (const key of it) {
        yield key;
        yield key;
      }
    },
  };
}
