// Entry of the single-file bundle and the SEA binary: always runs the CLI.
// First import: heap settings apply before the rest of the agent loads.
import "./heap-tuning";
import { main } from "./main";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`vigil-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
