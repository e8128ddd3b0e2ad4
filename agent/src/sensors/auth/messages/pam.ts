import { AuthAction } from "@vigil/proto";
import { type MessageMatch, match } from "./types";

/** PAM service names we report, mapped to the service field. */
const SERVICES: Record<string, string> = {
  sshd: "sshd",
  sudo: "sudo",
  "sudo-i": "sudo",
  su: "su",
  "su-l": "su",
  login: "login",
  "systemd-user": "systemd-user",
  passwd: "passwd",
  chpasswd: "chpasswd",
};

// "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)"
// Older PAM writes "for user root by alice(uid=1000)" without the uid.
const SESSION = /^pam_unix\(([\w-]+):session\): session (opened|closed) for user ([^\s(]+)(?:\(uid=\d+\))?(?: by ([^\s(]*)(?:\(uid=\d+\))?)?$/;
// "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root"
const AUTH_FAILURE = /^(pam_\w+)\(([\w-]+):auth\): authentication failure; (.*)$/s;
// Account management said no: "pam_sss(sshd:account): Access denied for user bob: 6 (Permission denied)",
// "pam_unix(sshd:account): account bob has expired (account expired)".
const ACCOUNT_DENIED = /^(pam_\w+)\(([\w-]+):account\): (?:Access denied for user (\S+?)(?::.*)?|account (\S+) has expired.*)$/s;
// Lockouts: "pam_faillock(sshd:auth): Consecutive login failures for user bob account temporarily locked",
// "pam_tally2(sshd:auth): user bob (1001) tally 4, deny 3".
const FAILLOCK = /^(pam_faillock)\(([\w-]+):auth\): Consecutive login failures for user (\S+) account temporarily locked.*$/s;
// "pam_unix(passwd:chauthtok): password changed for bob"
const PASSWORD_CHANGED = /^(pam_\w+)\(([\w-]+):chauthtok\): password changed for (\S+)$/;
const TALLY = /^(pam_tally2?)\(([\w-]+):auth\): user (\S+) \(\d+\) tally (\d+), deny (\d+)$/;

export function parsePam(msg: string): MessageMatch | null {
  const s = SESSION.exec(msg);
  if (s) return session(s[1]!, s[2] === "opened", s[3]!, s[4] ?? "");
  const f = AUTH_FAILURE.exec(msg);
  if (f) return authFailure(f[1]!, f[2]!, f[3]!);
  const a = ACCOUNT_DENIED.exec(msg);
  if (a) return refusal(AuthAction.AUTH_ACTION_ACCESS_DENIED, a[1]!, a[2]!, a[3] ?? a[4]!);
  const l = FAILLOCK.exec(msg);
  if (l) return refusal(AuthAction.AUTH_ACTION_ACCOUNT_LOCKED, l[1]!, l[2]!, l[3]!);
  const p = PASSWORD_CHANGED.exec(msg);
  if (p) {
    const service = SERVICES[p[2]!];
    return service === undefined ? null : match({ action: AuthAction.AUTH_ACTION_PASSWORD_CHANGED, service, method: p[1]!, targetUser: p[3]! });
  }
  const t = TALLY.exec(msg);
  if (t && Number(t[4]) > Number(t[5])) return refusal(AuthAction.AUTH_ACTION_ACCOUNT_LOCKED, t[1]!, t[2]!, t[3]!);
  return null;
}

function refusal(action: AuthAction, module: string, pamService: string, user: string): MessageMatch | null {
  const service = SERVICES[pamService];
  return service === undefined ? null : match({ action, service, method: module, user });
}

/**
 * target_user is always the account whose session it is, so an open and its
 * close pair up even when only the open names who acted; user is who acted
 * (su/sudo: "for user root by alice") or, when no one else is named, the
 * account itself. LOGIN is login(1)'s placeholder for "nobody yet", not an actor.
 */
function session(pamService: string, opened: boolean, forUser: string, by: string): MessageMatch | null {
  const service = SERVICES[pamService];
  if (service === undefined) return null;
  const actor = by !== "" && by !== "LOGIN" && by !== forUser ? by : "";
  return match({
    action: opened ? AuthAction.AUTH_ACTION_SESSION_OPEN : AuthAction.AUTH_ACTION_SESSION_CLOSE,
    service,
    user: actor || forUser,
    targetUser: forUser,
  });
}

/**
 * The PAM module's view of a failed password. sshd also logs "Failed password"
 * for the same attempt, so method carries the module name (pam_unix, pam_sss)
 * to let rules that count attempts pick one of the two.
 */
function authFailure(module: string, pamService: string, rest: string): MessageMatch | null {
  const service = SERVICES[pamService];
  if (service === undefined) return null;
  const kv = pamFields(rest);
  const user = kv.get("user") ?? "";
  const ruser = kv.get("ruser") || kv.get("logname") || "";
  const tty = (kv.get("tty") ?? "").replace(/^\/dev\//, "");
  const base = { service, method: module, tty, sourceIp: kv.get("rhost") ?? "" };
  switch (service) {
    case "su":
      return match({ ...base, action: AuthAction.AUTH_ACTION_SU_FAILURE, user: ruser, targetUser: user });
    case "sudo":
      return match({ ...base, action: AuthAction.AUTH_ACTION_SUDO_FAILURE, user: user || ruser });
    default:
      return match({ ...base, action: AuthAction.AUTH_ACTION_LOGIN_FAILURE, user });
  }
}

/** key=value pairs; "user" comes last and takes the rest (names may hold spaces). */
function pamFields(rest: string): Map<string, string> {
  const kv = new Map<string, string>();
  const userAt = rest.search(/(?:^|\s)user=/);
  const head = userAt >= 0 ? rest.slice(0, userAt) : rest;
  if (userAt >= 0) kv.set("user", rest.slice(rest.indexOf("user=", userAt) + 5).trim());
  for (const m of head.matchAll(/(\w+)=(\S*)/g)) kv.set(m[1]!, m[2]!);
  return kv;
}
