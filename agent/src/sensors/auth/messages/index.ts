import { parseLogin, parseLogind } from "./login";
import { parsePam } from "./pam";
import { parseSu, parseSudo } from "./privilege";
import { parseSshd } from "./sshd";
import type { MessageMatch } from "./types";

export type { MessageMatch } from "./types";

/** A "message repeated" count above this is clamped: one line must not turn into millions of events. */
export const MAX_REPEAT = 10_000;

type Parser = (msg: string) => MessageMatch | null;

/** Program name (syslog tag / SYSLOG_IDENTIFIER) -> service name and its own message parser. */
const PROGRAMS: Record<string, { service: string; parse: Parser }> = {
  sshd: { service: "sshd", parse: parseSshd },
  // OpenSSH 9.8+ authenticates in a separate sshd-session binary.
  "sshd-session": { service: "sshd", parse: parseSshd },
  // OpenSSH 10 moved authentication into sshd-auth.
  "sshd-auth": { service: "sshd", parse: parseSshd },
  sudo: { service: "sudo", parse: parseSudo },
  su: { service: "su", parse: parseSu },
  login: { service: "login", parse: parseLogin },
  "systemd-logind": { service: "systemd-logind", parse: parseLogind },
};

const REPEATED = /^message repeated (\d{1,12}) times: \[ ?(.*?)\]$/s;

/**
 * Parses the message part of an auth log line written by `program`.
 * Returns null for anything that is not an authentication event.
 */
export function parseAuthMessage(program: string, msg: string): MessageMatch | null {
  const rep = REPEATED.exec(msg);
  if (rep) {
    const inner = parseAuthMessage(program, rep[2]!);
    if (!inner) return null;
    const n = Math.min(Math.max(Number(rep[1]), 1), MAX_REPEAT);
    return { fields: inner.fields, repeat: Math.min(inner.repeat * n, MAX_REPEAT) };
  }
  const known = PROGRAMS[program];
  // PAM lines come from many programs (sshd, sudo, su, systemd for systemd-user);
  // parsePam keeps only the PAM services we report.
  const found = known?.parse(msg) ?? parsePam(msg);
  if (!found) return null;
  const service = found.fields.service || known?.service || "";
  return { fields: { ...found.fields, service }, repeat: found.repeat };
}
