import { journalRecord } from "../tail";
import { MAX_PARSE_CHARS, type ParsedAuth, fromMessage } from "./parse-line";

/** SYSLOG_IDENTIFIERs that write authentication events; used as journalctl matches. */
export const JOURNAL_IDENTIFIERS = ["sshd", "sshd-session", "sshd-auth", "sudo", "su", "login", "systemd-logind", "systemd", "useradd", "userdel", "usermod", "gpasswd", "passwd", "chpasswd"];

/** Parses one entry of `journalctl -o json`. Returns null for non-auth entries and for anything malformed. Never throws. */
export function parseJournalEntry(obj: unknown, opts: { keepOther?: boolean } = {}): ParsedAuth | null {
  const r = journalRecord(obj, MAX_PARSE_CHARS);
  if (!r) return null;
  try {
    return fromMessage(r.identifier, r.pid, r.hostname, r.message, r.timeMs, r.raw, opts.keepOther);
  } catch {
    return null;
  }
}
