import { migrateCommand } from "./cli/migrate";
import { serveCommand } from "./cli/serve";
import { CONTROLLER_VERSION } from "./version";

const HELP = `vigil-controller ${CONTROLLER_VERSION}: the Vigil EDR controller

Usage: vigil-controller <command> [options]

Commands:
  serve      run the controller (HTTP API + agent gRPC)
               --http ADDR        HTTP listen address (VIGIL_HTTP_ADDR, default 127.0.0.1:8080)
               --grpc ADDR        agent gRPC listen address (VIGIL_GRPC_ADDR, default 0.0.0.0:50051)
               --database URL     sqlite:PATH or postgres://... (VIGIL_DATABASE_URL, default sqlite:./data/vigil.db)
               --data-dir DIR     keys, CA and SQLite file (VIGIL_DATA_DIR, default ./data)
               --log-level LEVEL  debug|info|warn|error (VIGIL_LOG_LEVEL)
               --no-migrate       do not apply pending migrations at start
  migrate    apply pending database migrations (--revert undoes the last one)
  version    print the version

Environment: VIGIL_EVENT_RETENTION (default 30d), VIGIL_AGENT_OFFLINE_AFTER (default 90s),
             VIGIL_SQLITE_SYNCHRONOUS (FULL|NORMAL, default FULL)
`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  serve: serveCommand,
  migrate: migrateCommand,
  version: async () => {
    console.log(CONTROLLER_VERSION);
    return 0;
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(HELP);
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`vigil-controller: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  return cmd(rest);
}
