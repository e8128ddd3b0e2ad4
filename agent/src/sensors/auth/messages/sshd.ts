import { isIP } from "node:net";
import { AuthAction } from "@vigil/proto";
import { type MessageMatch, match } from "./types";

/*
 * sshd writes "<Verb> <method> for [invalid user ]<user> from <ip> port <n> ssh2[: <info>]".
 * The user is whatever the client sent and, for hostbased, the info holds the
 * client-chosen user and host names, so either side may carry a fake
 * " from <ip> port <n> ssh2". sshd itself always logs the numeric address, so a
 * candidate address must be an IP, and the text after it must be what sshd
 * appends. Which candidate is real: for every method but hostbased the info is
 * sshd's own (a key type and fingerprint), so the last well-formed one is sshd's
 * and the earlier ones belong to the user name; for hostbased the info is the
 * client's, so the first well-formed one is sshd's.
 */
const CANDIDATE = / from (\S+) port (\d{1,5})/g;
const AFTER_ADDRESS = /^(?: ssh2)?(?: \[preauth\])?(?:: .*)?$/s;

interface Origin {
  user: string;
  sourceIp: string;
  sourcePort: number;
}

/** Splits "<user> from <ip> port <n> ssh2..." at sshd's own address. */
function splitOrigin(rest: string, preferFirst: boolean): Origin | null {
  let found: Origin | null = null;
  for (const m of rest.matchAll(CANDIDATE)) {
    if (!isAddress(m[1]!)) continue;
    const end = m.index + m[0].length;
    if (!AFTER_ADDRESS.test(rest.slice(end))) continue;
    found = { user: rest.slice(0, m.index), sourceIp: m[1]!, sourcePort: Number(m[2]) };
    if (preferFirst) break;
  }
  return found;
}

const isAddress = (s: string): boolean => isIP(s.replace(/%[\w.-]+$/, "")) !== 0;

const ACCEPTED = /^Accepted (\S+) for (.*)$/s;
const FAILED = /^Failed (\S+) for (?:invalid user )?(.*)$/s;
const INVALID = /^Invalid user (.*) from (\S+)(?: port (\d{1,5}))?(?: \[preauth\])?$/s;
// RHEL with keyboard-interactive/pam logs this instead of "Failed password".
const PAM_ERROR = /^error: PAM: Authentication failure for (illegal user )?(.*) from (\S+)\s*$/s;
const PAM_UNKNOWN = /^error: PAM: User not known to the underlying authentication module for (?:illegal user )?(.*) from (\S+)\s*$/s;
// Access refused before any password was checked (sshd_config AllowUsers/DenyGroups, locked account, bad shell).
const NOT_ALLOWED = /^User (.+?)(?: from (\S+))? not allowed because .*$/s;
const PAM_ACCOUNT = /^fatal: Access denied for user (.*) by PAM account configuration(?: \[preauth\])?$/s;
// Clients that named a user and left before authenticating: key scanners leave only these.
const ABORTED = [
  /^(?:Connection (?:closed|reset) by|Disconnected from) (?:authenticating|invalid) user (.*) (\S+) port (\d{1,5})(?: \[preauth\])?$/s,
  /^Disconnecting (?:authenticating|invalid) user (.*) (\S+) port (\d{1,5}): .*$/s,
];
const MAX_TRIES = /^error: maximum authentication attempts exceeded for (?:invalid user )?(.*)$/s;
// OpenSSH before 7.x: "Disconnecting: Too many authentication failures for root [preauth]".
const TOO_MANY_OLD = /^Disconnecting: Too many authentication failures for (?:invalid user )?(.+?)(?: \[preauth\])?$/s;
// PermitRootLogin no, as old OpenSSH and some distributions' patches log it.
const ROOT_REFUSED = /^ROOT LOGIN REFUSED FROM (\S+?)(?: port (\d{1,5}))?(?: \[preauth\])?$/;

export function parseSshd(msg: string): MessageMatch | null {
  let m = ACCEPTED.exec(msg);
  if (m) {
    const o = splitOrigin(m[2]!, m[1] === "hostbased");
    return o && match({ action: AuthAction.AUTH_ACTION_LOGIN_SUCCESS, method: method(m[1]!), ...o });
  }
  m = FAILED.exec(msg);
  if (m) {
    // Every failed attempt is a LOGIN_FAILURE, also for unknown users; the
    // separate "Invalid user" line marks the unknown account once per connection.
    const o = splitOrigin(m[2]!, m[1] === "hostbased");
    return o && match({ action: AuthAction.AUTH_ACTION_LOGIN_FAILURE, method: method(m[1]!), ...o });
  }
  m = INVALID.exec(msg);
  if (m) {
    return match({ action: AuthAction.AUTH_ACTION_INVALID_USER, user: m[1]!, sourceIp: m[2]!, sourcePort: m[3] === undefined ? 0 : Number(m[3]) });
  }
  m = PAM_ERROR.exec(msg);
  if (m) {
    return match({
      action: m[1] ? AuthAction.AUTH_ACTION_INVALID_USER : AuthAction.AUTH_ACTION_LOGIN_FAILURE,
      method: "keyboard-interactive",
      user: m[2]!,
      sourceIp: m[3]!,
    });
  }
  m = PAM_UNKNOWN.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_INVALID_USER, method: "keyboard-interactive", user: m[1]!, sourceIp: m[2]! });
  m = NOT_ALLOWED.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_ACCESS_DENIED, user: m[1]!, sourceIp: m[2] ?? "" });
  m = PAM_ACCOUNT.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_ACCESS_DENIED, method: "pam", user: m[1]! });
  for (const re of ABORTED) {
    m = re.exec(msg);
    if (m && isAddress(m[2]!)) return match({ action: AuthAction.AUTH_ACTION_AUTH_ABORTED, user: m[1]!, sourceIp: m[2]!, sourcePort: Number(m[3]) });
  }
  m = TOO_MANY_OLD.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_AUTH_ABORTED, user: m[1]! });
  m = ROOT_REFUSED.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_ACCESS_DENIED, user: "root", sourceIp: m[1]!, sourcePort: m[2] === undefined ? 0 : Number(m[2]) });
  m = MAX_TRIES.exec(msg);
  if (m) {
    const o = splitOrigin(m[1]!, false);
    return o && match({ action: AuthAction.AUTH_ACTION_AUTH_ABORTED, ...o });
  }
  return null;
}

/** "keyboard-interactive/pam" -> "keyboard-interactive": the submethod is a detail. */
function method(raw: string): string {
  const slash = raw.indexOf("/");
  return slash > 0 ? raw.slice(0, slash) : raw;
}
