import { readFileSync, statSync } from "node:fs";

/** Parses /etc/passwd into uid -> name; the first entry for a uid wins, as getpwuid does. */
export function parsePasswd(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(":");
    if (fields.length < 3) continue;
    const uid = Number(fields[2]);
    if (fields[0] && Number.isInteger(uid) && !names.has(uid)) names.set(uid, fields[0]);
  }
  return names;
}

/**
 * uid -> user name from /etc/passwd, re-read only when the file's mtime or
 * size changes (checked at most once per `recheckMs`, so a burst of lookups
 * costs one stat). Users only in LDAP/SSSD are not resolved: that needs NSS,
 * which plain Node cannot call; the uid is still reported.
 */
export class UserNames {
  private names = new Map<number, string>();
  private stamp = "";
  private checkedAt = -Infinity;

  constructor(
    private readonly passwdPath = "/etc/passwd",
    private readonly recheckMs = 1000,
  ) {}

  name(uid: number): string {
    this.refresh();
    return this.names.get(uid) ?? "";
  }

  private refresh(): void {
    const now = performance.now();
    if (now - this.checkedAt < this.recheckMs) return;
    this.checkedAt = now;
    try {
      const st = statSync(this.passwdPath);
      const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      if (stamp === this.stamp) return;
      this.names = parsePasswd(readFileSync(this.passwdPath, "utf8"));
      this.stamp = stamp;
    } catch {
      // Unreadable passwd: keep what we had; names stay "" for unknown uids.
    }
  }
}
