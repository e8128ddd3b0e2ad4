import { AuthAction } from "@vigil/proto";
import { type MessageMatch, match } from "./types";

/*
 * shadow-utils writes account changes to the auth facility. These are how a
 * backdoor account appears ("new user", then "add 'x' to group 'sudo'"), so they
 * are reported with the account changed in target_user; the actor is whoever
 * ran the tool (its pid is in the event), named only by gpasswd.
 */
const NEW_USER = /^new user: name=([^,\s]+), UID=(\d+)(?:, .*?)?(?:, from=(\S+))?$/s;
const DELETE_USER = /^delete user '([^']+)'$/;
// usermod -aG / useradd -G; the "to shadow group" twin of each line is the same change.
const ADD_TO_GROUP = /^add '([^']+)' to group '([^']+)'$/;
const GPASSWD_ADD = /^user (\S+) added by (\S+) to group (\S+)$/;
const USERMOD_PASSWORD = /^change user '([^']+)' password$/;

export function parseAccountTool(msg: string): MessageMatch | null {
  let m = NEW_USER.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_ACCOUNT_CREATED, targetUser: m[1]!, tty: (m[3] ?? "").replace(/^\/dev\//, "") });
  m = DELETE_USER.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_ACCOUNT_DELETED, targetUser: m[1]! });
  m = ADD_TO_GROUP.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_GROUP_MEMBER_ADDED, targetUser: m[1]!, groupName: m[2]! });
  m = GPASSWD_ADD.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_GROUP_MEMBER_ADDED, targetUser: m[1]!, user: m[2]!, groupName: m[3]! });
  m = USERMOD_PASSWORD.exec(msg);
  if (m) return match({ action: AuthAction.AUTH_ACTION_PASSWORD_CHANGED, targetUser: m[1]! });
  return null;
}
