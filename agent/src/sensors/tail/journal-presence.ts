import { promises as fsp } from "node:fs";
import path from "node:path";

/** Where systemd-journald keeps its files: persistent, then volatile. */
export const DEFAULT_JOURNAL_DIRS = ["/var/log/journal", "/run/log/journal"];

/**
 * Whether any journal file exists (`<dir>/<machine-id>/*.journal` or `<dir>/*.journal`). A host
 * without one (a container, a minimal VM) still has a journalctl that runs and waits forever
 * printing nothing: only this tells a journal-fed sensor that it is blind.
 */
export async function journalFilesPresent(dirs: string[] = DEFAULT_JOURNAL_DIRS): Promise<boolean> {
  for (const dir of dirs) {
    const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
    // Bounded: a journal dir holds a handful of machine ids, each a bounded set of files.
    for (const e of entries.slice(0, 64)) {
      if (e.isFile() && e.name.endsWith(".journal")) return true;
      if (!e.isDirectory()) continue;
      const inner = await fsp.readdir(path.join(dir, e.name)).catch(() => [] as string[]);
      if (inner.some((n) => n.endsWith(".journal"))) return true;
    }
  }
  return false;
}
