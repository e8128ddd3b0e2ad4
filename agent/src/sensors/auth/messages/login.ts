import { isIP } from "node:net";
import { AuthAction } from "@vigil/proto";
import { type MessageMatch, match } from "./types";

// login(1) on a console or serial line. shadow's login quotes and uses lower case
// ("ROOT LOGIN  on 'tty1'"); util-linux's (RHEL, Fedora, Arch) does not ("ROOT LOGIN ON tty1").
const ROOT_LOGIN = /^ROOT LOGIN {1,2}(?:on|ON) '?([^'\s]+)'?(?: (?:from|FROM) '?([^'\s]+)'?)?$/;
const LOGIN_ON = /^LOGIN ON (\S+) BY (\S+)(?: FROM (\S+))?$/;
const FAILED_LOGIN = /^FAILED LOGIN \(\d+\) on '([^']*)'(?: from '([^']*)')? FOR '(.*)', .*$/s;
// util-linux: "FAILED LOGIN 1 FROM tty1 FOR bob, Authentication failure"; FROM is the
// remote host for a network login, else the terminal.
const FAILED_FROM = /^FAILED LOGIN (?:\d+|SESSION) FROM (\S+) FOR (.*), [^,]*$/s;

export function parseLogin(msg: string): MessageMatch | null {
  let m = ROOT_LOGIN.exec(msg);
  if (m) return login(true, "root", m[1]!, m[2]);
  m = LOGIN_ON.exec(msg);
  if (m) return login(true, m[2]!, m[1]!, m[3]);
  m = FAILED_LOGIN.exec(msg);
  if (m) return login(false, m[3]!, m[1]!, m[2]);
  m = FAILED_FROM.exec(msg);
  if (m) return isIP(m[1]!) ? login(false, m[2]!, "", m[1]) : login(false, m[2]!, m[1]!, undefined);
  return null;
}

function login(ok: boolean, user: string, tty: string, from: string | undefined): MessageMatch {
  return match({
    action: ok ? AuthAction.AUTH_ACTION_LOGIN_SUCCESS : AuthAction.AUTH_ACTION_LOGIN_FAILURE,
    user,
    tty: tty.replace(/^\/dev\//, ""),
    sourceIp: from ?? "",
  });
}

const NEW_SESSION = /^New session (\S+) of user (\S+)\.$/;
const REMOVED_SESSION = /^Removed session (\S+)\.$/;

/**
 * systemd-logind's view of sessions. "Removed session" names no user; the
 * session id goes into tty (a logind session is the closest thing to a
 * terminal it names) so open and close can be paired.
 */
export function parseLogind(msg: string): MessageMatch | null {
  let m = NEW_SESSION.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_SESSION_OPEN, user: m[2]!, tty: `session-${m[1]}` });
  m = REMOVED_SESSION.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_SESSION_CLOSE, tty: `session-${m[1]}` });
  return null;
}
