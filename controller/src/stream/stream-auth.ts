import type { IncomingMessage } from "node:http";

/** The subprotocol the server speaks; browsers offer it together with the key (see keyFromUpgrade). */
export const STREAM_PROTOCOL = "vigil.v1";
/** Prefix of the subprotocol entry that carries the API key, for clients that cannot set headers. */
export const KEY_PROTOCOL_PREFIX = "vigil.key.";

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The API key of a WebSocket upgrade, from (in order) `Authorization: Bearer`, `X-Api-Key`, a
 * `Sec-WebSocket-Protocol` entry `vigil.key.<key>` (browsers cannot set headers on a WebSocket),
 * or `?key=` (last resort: query strings end up in proxy logs).
 */
export function keyFromUpgrade(req: IncomingMessage, url: URL): string | undefined {
  const auth = first(req.headers.authorization);
  if (auth && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, "").trim();
  const header = first(req.headers["x-api-key"]);
  if (header) return header.trim();
  const protocols = first(req.headers["sec-websocket-protocol"]);
  const fromProtocol = protocols
    ?.split(",")
    .map((p) => p.trim())
    .find((p) => p.startsWith(KEY_PROTOCOL_PREFIX));
  if (fromProtocol) return fromProtocol.slice(KEY_PROTOCOL_PREFIX.length);
  return url.searchParams.get("key") ?? undefined;
}

/** Never echo the key back as the chosen subprotocol: pick ours if offered, else none. */
export function chooseProtocol(offered: Set<string>): string | false {
  return offered.has(STREAM_PROTOCOL) ? STREAM_PROTOCOL : false;
}
