import { redactVigilSecrets } from "@vigil/proto";
import type { Log } from "./log";

/**
 * Process-level safety net: an unhandled promise rejection or an uncaught exception anywhere in
 * the agent is logged (secrets redacted, bounded) and counted, so it shows in AgentStatus instead
 * of vanishing (a rejection) or killing the agent with only a stack on stderr (an exception).
 * A rejection is survivable: the agent keeps running. After an uncaught exception the process
 * state is unknown, so the agent exits (EX_SOFTWARE) and the service manager restarts it;
 * containment is re-applied from the state dir on start.
 */
export const EXIT_UNCAUGHT = 70;

export const processFaults = { count: 0, unhandledRejection: 0, uncaughtException: 0 };

function describe(err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return redactVigilSecrets(text).slice(0, 4096);
}

export function installProcessFaultHandlers(log: Log, onFatal: () => void = () => process.exit(EXIT_UNCAUGHT)): () => void {
  const rejection = (reason: unknown): void => {
    processFaults.count++;
    processFaults.unhandledRejection++;
    log.error("unhandled promise rejection", { error: describe(reason), count: processFaults.unhandledRejection });
  };
  const exception = (err: unknown): void => {
    processFaults.count++;
    processFaults.uncaughtException++;
    log.error("uncaught exception; exiting so the service manager restarts the agent", { error: describe(err), exitCode: EXIT_UNCAUGHT });
    onFatal();
  };
  process.on("unhandledRejection", rejection);
  process.on("uncaughtException", exception);
  return () => {
    process.off("unhandledRejection", rejection);
    process.off("uncaughtException", exception);
  };
}
