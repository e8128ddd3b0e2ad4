export { CommandExecutor, type ExecutorOptions, type LocalAction } from "./executor";
export { CommandVerifier, type RefusalCode, type VerifierOptions, type VerifyOutcome, ed25519PublicKeyFromRaw } from "./verify";
export { MAX_REPLAY_ENTRIES, ReplayStore } from "./replay-store";
