import { AuthAction } from "@vigil/proto";
import { type MessageMatch, match } from "./types";

/*
 * The user name in "invalid user X" is whatever the client sent, so it may
 * contain spaces or even a fake " from ... port ..." suffix. The patterns take
 * the user greedily so the source address is always sshd's own, the last one.
 */
const TAIL = String.raw` from (\S+) port (\d{1,5})(?: ssh2)?(?: \[preauth\])?(?:: .*)?$`;
const ACCEPTED = new RegExp(String.raw`^Accepted (\S+) for (\S+)` + TAIL, "s");
const FAILED = new RegExp(String.raw`^Failed (\S+) for (invalid user )?(.*)` + TAIL, "s");
const INVALID = /^Invalid user (.*) from (\S+)(?: port (\d{1,5}))?(?: \[preauth\])?$/s;
// RHEL with keyboard-interactive/pam logs this instead of "Failed password".
const PAM_ERROR = /^error: PAM: Authentication failure for (illegal user )?(.*) from (\S+)$/s;

export function parseSshd(msg: string): MessageMatch | null {
  let m = ACCEPTED.exec(msg);
  if (m) {
    return match({
      action: AuthAction.AUTH_ACTION_LOGIN_SUCCESS,
      method: method(m[1]!),
      user: m[2]!,
      sourceIp: m[3]!,
      sourcePort: Number(m[4]),
    });
  }
  m = FAILED.exec(msg);
  if (m) {
    // Every failed attempt is a LOGIN_FAILURE, also for unknown users; the
    // separate "Invalid user" line marks the unknown account once per connection.
    return match({
      action: AuthAction.AUTH_ACTION_LOGIN_FAILURE,
      method: method(m[1]!),
      user: m[3]!,
      sourceIp: m[4]!,
      sourcePort: Number(m[5]),
    });
  }
  m = INVALID.exec(msg);
  if (m) {
    return match({
      action: AuthAction.AUTH_ACTION_INVALID_USER,
      user: m[1]!,
      sourceIp: m[2]!,
      sourcePort: m[3] === undefined ? 0 : Number(m[3]),
    });
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
  return null;
}

/** "keyboard-interactive/pam" -> "keyboard-interactive": the submethod is a detail. */
function method(raw: string): string {
  const slash = raw.indexOf("/");
  return slash > 0 ? raw.slice(0, slash) : raw;
}
