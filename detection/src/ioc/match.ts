import type { Event } from "@vigil/proto";
import type { IocIndex } from "./ioc-index";
import type { Ioc } from "./types";

/** Which field of the event matched, named by its path in the `Event` TypeScript type. */
export type IocField = "process.sha256" | "file.sha256After" | "network.remoteAddress" | "auth.sourceIp";

export interface IocHit {
  ioc: Ioc;
  field: IocField;
  /** The value as it appeared in the event (before canonicalisation). */
  observed: string;
}

export interface MatchEventOptions {
  /**
   * Time at which IOC expiry is judged. Defaults to the event's own time, so replaying an old
   * backlog gives the hits it would have given live.
   */
  nowMs?: number;
}

/**
 * IOC hits for one event. Only explicit fields are checked (process and file hashes, the remote
 * address of a connection, the source address of a login). Domains are not matched here: no event
 * in the contract carries a domain name yet (no DNS sensor), and pulling names out of command lines
 * would be guesswork; callers that have a name call `index.matchDomain` directly.
 */
export function matchEvent(index: IocIndex, event: Event, opts: MatchEventOptions = {}): IocHit[] {
  const body = event.body;
  if (!body) return [];
  const now = opts.nowMs ?? (event.eventTimeMs > 0 ? event.eventTimeMs : undefined);
  const hits: IocHit[] = [];
  const add = (field: IocField, observed: string, iocs: Ioc[]): void => {
    for (const ioc of iocs) hits.push({ ioc, field, observed });
  };
  switch (body.$case) {
    case "process":
      if (body.process.sha256) add("process.sha256", body.process.sha256, index.matchSha256(body.process.sha256, now));
      break;
    case "file":
      if (body.file.sha256After) add("file.sha256After", body.file.sha256After, index.matchSha256(body.file.sha256After, now));
      break;
    case "network":
      if (body.network.remoteAddress) add("network.remoteAddress", body.network.remoteAddress, index.matchIp(body.network.remoteAddress, now));
      break;
    case "auth":
      if (body.auth.sourceIp) add("auth.sourceIp", body.auth.sourceIp, index.matchIp(body.auth.sourceIp, now));
      break;
    case "agent":
    case "audit":
    case "log":
      break;
  }
  return hits;
}
