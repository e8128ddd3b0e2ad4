import { AuthAction } from "@vigil/proto";
import { type MessageMatch, match } from "./types";

// sudo: "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id"
// A failure puts the reason first: "alice : 3 incorrect password attempts ; TTY=..."
const SUDO = /^\s*([^\s:]+) : (.+)$/s;
const KV = /^([A-Z_]+)=(.*)$/s;

export function parseSudo(msg: string): MessageMatch | null {
  const m = SUDO.exec(msg);
  if (!m) return null;
  let rest = m[2]!;
  // COMMAND= is last and its value may itself contain " ; ", so cut it off first.
  let command = "";
  const cmdAt = rest.startsWith("COMMAND=") ? 0 : rest.indexOf(" ; COMMAND=");
  if (cmdAt >= 0) {
    command = rest.slice(cmdAt + (cmdAt === 0 ? 8 : 11));
    rest = rest.slice(0, cmdAt);
  }
  const kv = new Map<string, string>();
  const reasons: string[] = [];
  for (const seg of rest.split(" ; ")) {
    if (seg === "") continue;
    const pair = KV.exec(seg);
    if (pair) kv.set(pair[1]!, pair[2]!);
    else reasons.push(seg);
  }
  if (cmdAt < 0 && !kv.has("USER")) return null;
  return match({
    action: reasons.length > 0 ? AuthAction.AUTH_ACTION_SUDO_FAILURE : AuthAction.AUTH_ACTION_SUDO,
    user: m[1]!,
    targetUser: kv.get("USER") ?? "root",
    tty: kv.get("TTY") ?? "",
    command,
  });
}

const SU_TO = /^(FAILED SU )?\(to (\S+)\) (\S+) on (\S+)$/; // util-linux su (Debian)
const SU_FOR = /^(Successful|FAILED) su for (\S+) by (\S+)$/; // shadow su
const SU_SHORT = /^([+-]) (\S+) (\S+?):(\S+)$/; // shadow su: "+ pts/0 alice:root"

export function parseSu(msg: string): MessageMatch | null {
  let m = SU_TO.exec(msg);
  if (m) return su(!m[1], m[3]!, m[2]!, m[4]!);
  m = SU_FOR.exec(msg);
  if (m) return su(m[1] === "Successful", m[3]!, m[2]!, "");
  m = SU_SHORT.exec(msg);
  if (m) return su(m[1] === "+", m[3]!, m[4]!, m[2]!);
  return null;
}

function su(ok: boolean, user: string, targetUser: string, tty: string): MessageMatch {
  return match({
    action: ok ? AuthAction.AUTH_ACTION_SU : AuthAction.AUTH_ACTION_SU_FAILURE,
    user,
    targetUser,
    tty: tty.replace(/^\/dev\//, ""),
  });
}
