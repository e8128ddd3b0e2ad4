import { isIP } from "node:net";
import { AuthAction, redactVigilSecrets, type AuthEvent } from "@vigil/proto";

/** Per-field caps (characters): log lines are attacker-influenced and end up stored and indexed. */
export const FIELD_LIMITS = {
  name: 256,
  short: 64,
  command: 4096,
  raw: 4096,
} as const;

function cap(s: string | undefined, max: number): string {
  if (!s) return "";
  return s.length > max ? s.slice(0, max) : s;
}

/**
 * "::ffff:192.0.2.1" is an IPv4 peer on a dual-stack socket; report it as IPv4.
 * Anything that is not an address is dropped: PAM's rhost and sshd with UseDNS
 * write host names, and a name in SourceIp would defeat CIDR rules and IOC
 * matching (the raw line still holds it).
 */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (m) return m[1]!;
  return isIP(ip.replace(/%[\w.-]+$/, "")) !== 0 ? ip : "";
}

/** A complete AuthEvent with every string bounded. */
export function buildAuthEvent(f: Partial<AuthEvent>): AuthEvent {
  const port = f.sourcePort ?? 0;
  const pid = f.pid ?? 0;
  return {
    action: f.action ?? AuthAction.AUTH_ACTION_UNSPECIFIED,
    user: cap(f.user, FIELD_LIMITS.name),
    targetUser: cap(f.targetUser, FIELD_LIMITS.name),
    sourceIp: cap(normalizeIp(f.sourceIp ?? ""), FIELD_LIMITS.short),
    sourcePort: Number.isInteger(port) && port > 0 && port <= 65535 ? port : 0,
    method: cap(f.method, FIELD_LIMITS.short),
    pid: Number.isInteger(pid) && pid > 0 && pid <= 0x7fffffff ? pid : 0,
    service: cap(f.service, FIELD_LIMITS.short),
    // sudo logs the whole command line: a Vigil token or API key typed there is not kept.
    command: cap(redactVigilSecrets(f.command ?? ""), FIELD_LIMITS.command),
    tty: cap(f.tty, FIELD_LIMITS.short),
    hostname: cap(f.hostname, FIELD_LIMITS.name),
    raw: cap(redactVigilSecrets(f.raw ?? ""), FIELD_LIMITS.raw),
    groupName: cap(f.groupName, FIELD_LIMITS.name),
  };
}
