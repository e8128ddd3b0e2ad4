import { parseAccountTool } from "./accounts";
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
  useradd: { service: "useradd", parse: parseAccountTool },
  userdel: { service: "userdel", parse: parseAccountTool },
  usermod: { service: "usermod", parse: parseAccountTool },
  gpasswd: { service: "gpasswd", parse: parseAccountTool },
};

const REPEATED = /^message repeated (\d{1,12}) times: \[ ?(.*?)\]$/s;
// PAM before ~2006 tagged its lines "sshd(pam_unix)[123]: authentication failure; ..."
// without the "pam_unix(sshd:auth): " prefix modern PAM writes into the message.
const OLD_PAM_TAG = /^([\w-]+)\((pam_\w+)\)$/;
const OLD_PAM_PHASE: [RegExp, string][] = [
  [/^authentication failure; /, "auth"],
  [/^session (?:opened|closed) for user /, "session"],
];

/** The service an unrecognised line is filed under: the known one, else the program's own name ("CRON" -> "cron"). */
export function serviceOf(program: string): string {
  const base = program.replace(/\(.*$/, "");
  return PROGRAMS[base]?.service ?? base.toLowerCase();
}

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
  const old = OLD_PAM_TAG.exec(program);
  if (old) {
    const phase = OLD_PAM_PHASE.find(([re]) => re.test(msg))?.[1];
    return phase ? parseAuthMessage(old[1]!, `${old[2]}(${old[1]}:${phase}): ${msg}`) : null;
  }
  // Mid-2000s PAM also wrote "sshd[1]: (pam_unix) authentication failure; ...".
  const bare = /^\((pam_\w+)\) (authentication failure; .*)$/s.exec(msg);
  if (bare) return parseAuthMessage(program, `${bare[1]}(${program}:auth): ${bare[2]}`);
  const known = PROGRAMS[program];
  // PAM lines come from many programs (sshd, sudo, su, systemd for systemd-user);
  // parsePam keeps only the PAM services we report.
  const found = known?.parse(msg) ?? parsePam(msg);
  if (!found) return null;
  const service = found.fields.service || known?.service || "";
  return { fields: { ...found.fields, service }, repeat: found.repeat };
}
