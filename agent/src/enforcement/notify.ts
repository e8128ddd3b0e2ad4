import type { CommandRunner } from "./runner";

/** Tells people logged in on the host what just happened to their network. */
export type UserNotifier = (message: string) => Promise<void>;

/** `wall` to every logged-in terminal; best effort: a host without wall or ttys is fine. */
export function wallNotifier(run: CommandRunner): UserNotifier {
  return async (message) => {
    await run(["wall"], { input: `${message}\n`, timeoutMs: 5000 }).catch(() => undefined);
  };
}
