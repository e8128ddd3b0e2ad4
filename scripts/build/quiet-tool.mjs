// Runs a build tool and shows only what matters: its known, harmless chatter is dropped, anything
// else it prints is passed on, and a failure shows the whole output.
import { spawnSync } from "node:child_process";

/**
 * postject on a Node binary: LIEF warns about ELF note sections it cannot name (one line per
 * note, nine on Node 20) and reports progress in colour. Neither says anything is wrong.
 */
/* eslint-disable no-control-regex -- the lines to drop carry terminal colour escapes (ESC) */
export const POSTJECT_CHATTER = [
  /^warning: Can't find string offset for section name '\.note(\.\d+)?'$/,
  /^(\x1b\[\d+m)?Start injection of NODE_SEA_BLOB in .*\.\.\.(\x1b\[0m)?$/,
  /^(\x1b\[\d+m)?💉 Injection done!(\x1b\[0m)?$/,
];
/* eslint-enable no-control-regex */

/** The lines of `text` that are not known chatter (blank lines dropped). */
export function unexpectedLines(text, chatter) {
  return text.split(/\r?\n/).filter((l) => l.trim() !== "" && !chatter.some((re) => re.test(l)));
}

export function runQuiet(cmd, args, chatter) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const all = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  if (r.error) throw r.error;
  if (r.status !== 0) {
    process.stderr.write(all);
    throw new Error(`${cmd} ${args[0] ?? ""} failed (${r.signal ?? `exit ${r.status}`})`);
  }
  const rest = unexpectedLines(all, chatter);
  if (rest.length) process.stderr.write(rest.join("\n") + "\n");
}
