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
};

// "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)"
// Older PAM writes "for user root by alice(uid=1000)" without the uid.
const SESSION =
  /^pam_unix\(([\w-]+):session\): session (opened|closed) for user ([^\s(]+)(?:\(uid=\d+\))?(?: by ([^\s(]*)(?:\(uid=\d+\))?)?$/;
// "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root"
const AUTH_FAILURE = /^(pam_\w+)\(([\w-]+):auth\): authentication failure; (.*)$/s;

export function parsePam(msg: string): MessageMatch | null {
  const s = SESSION.exec(msg);
  if (s) return session(s[1]!, s[2] === "opened", s[3]!, s[4] ?? "");
  const f = AUTH_FAILURE.exec(msg);
  if (f) return authFailure(f[1]!, f[2]!, f[3]!);
  return null;
}

/**
 * user is who acted, target_user the account whose session it is when that
 * differs (su/sudo: "for user root by alice"). LOGIN is login(1)'s placeholder
 * for "nobody yet", not an actor.
 */
function session(pamService: string, opened: boolean, forUser: string, by: string): MessageMatch | null {
  const service = SERVICES[pamService];
  if (service === undefined) return null;
  const actor = by !== "" && by !== "LOGIN" && by !== forUser ? by : "";
  return match({
    action: opened ? AuthAction.AUTH_ACTION_SESSION_OPEN : AuthAction.AUTH_ACTION_SESSION_CLOSE,
    service,
    user: actor || forUser,
    targetUser: actor ? forUser : "",
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
