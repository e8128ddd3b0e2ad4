import type { Event } from "@vigil/proto";
import type { IocIndex } from "./ioc-index";
import type { Ioc } from "./types";

/** Which field of the event matched, named by its path in the `Event` TypeScript type. */
export type IocField = "process.sha256" | "file.sha256After" | "network.remoteAddress" | "network.remoteHostname" | "auth.sourceIp" | "dns.queryName" | "dns.answers";

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
 * address and the DNS name of a connection, the source address of a login, a DNS lookup's name
 * and the addresses and names it was answered with). Names are not pulled out of command lines:
 * that would be guesswork; callers that have a name call `index.matchDomain` directly.
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
      if (body.network.remoteHostname) add("network.remoteHostname", body.network.remoteHostname, index.matchDomain(body.network.remoteHostname, now));
      break;
    case "dns":
      if (body.dns.queryName) add("dns.queryName", body.dns.queryName, index.matchDomain(body.dns.queryName, now));
      // Bounded by the agent (at most 32 answers per lookup); an answer is an address or a CNAME target.
      for (const a of body.dns.answers.slice(0, 32)) add("dns.answers", a, looksLikeIp(a) ? index.matchIp(a, now) : index.matchDomain(a, now));
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

/** An A/AAAA answer (dotted quad or IPv6), as opposed to a CNAME target. */
function looksLikeIp(s: string): boolean {
  return s.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(s);
}
