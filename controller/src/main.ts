import { migrateCommand } from "./cli/migrate";
import { serveCommand } from "./cli/serve";
import { agentCommand } from "./cli/agent-revoke";
import { apikeyCommand } from "./cli/apikey";
import { auditCommand } from "./cli/audit";
import { tokenCommand } from "./cli/token";
import { iocsCommand } from "./cli/iocs";
import { rulesCommand } from "./cli/rules";
import { installCommandCommand } from "./cli/install-command";
import { CONTROLLER_VERSION } from "./version";

const HELP = `vigil-controller ${CONTROLLER_VERSION}: the Vigil EDR controller

Usage: vigil-controller <command> [options]

Commands:
  serve      run the controller (HTTP API + agent gRPC)
               --http ADDR        HTTPS listen address (VIGIL_HTTP_ADDR, default 127.0.0.1:8080); TLS with a
                                  certificate from the controller's CA, or VIGIL_HTTP_TLS_CERT/_KEY (yours)
               --insecure-http    plaintext HTTP API (VIGIL_INSECURE_HTTP=1): tests, or TLS ended by a proxy
                                  on this host; install.sh and the agent binary are then served to loopback only
               --grpc ADDR        agent gRPC listen address (VIGIL_GRPC_ADDR, default 0.0.0.0:50051)
               --database URL     sqlite:PATH or postgres://... (VIGIL_DATABASE_URL, default sqlite:./data/vigil.db)
               --data-dir DIR     keys, CA and SQLite file (VIGIL_DATA_DIR, default ./data)
               --log-level LEVEL  debug|info|warn|error (VIGIL_LOG_LEVEL)
               --no-migrate       do not apply pending migrations at start
               --insecure-grpc    DEVELOPMENT ONLY: plaintext agent gRPC trusting Hello.agent_id
                                  (VIGIL_INSECURE_GRPC=1); default is mTLS with enrolled agents
  migrate    apply pending database migrations (--revert undoes the last one)
  install-command [--token-file /root/vigil-token]
             print the line that installs an agent on a host: curl pinned to this controller's HTTPS
             key, the token read from a root-only file (VIGIL_PUBLIC_URL names the controller)
  token create [--ttl 24h] [--uses N] [--tags a,b] [--json]
             print a new agent enrollment token (shown once; only its hash is stored); token list
  apikey create --role admin|analyst|integration|readonly [--name N]
             print a new API key (shown once; scrypt hash stored); apikey list; apikey revoke ID
  agent revoke ID [--reason TEXT]
             revoke an enrolled agent; a running controller closes its stream within seconds
  audit verify | export
             check the audit hash chain (exit 1 at the first broken link) | print it as JSON lines
             (these take --database URL / --data-dir DIR like serve)
  rules validate DIR
             compile every Sigma rule below DIR: one line per refused rule, then "compiled N, refused M"
             (exit 1 if any was refused)
  rules test --rules PATH --events FILE.jsonl
             run rules (file or folder, correlations included) over JSON-lines events; each match is
             printed as one JSON line
  iocs import FILE [--format auto|csv|list|stix] [--source NAME]
             import IOCs (CSV or STIX 2.1 bundle) into the database (--database URL / --data-dir DIR)
  version    print the version

Environment: VIGIL_EVENT_RETENTION (default 30d), VIGIL_AGENT_OFFLINE_AFTER (default 90s),
             VIGIL_SQLITE_SYNCHRONOUS (FULL|NORMAL, default FULL), VIGIL_PG_QUERY_TIMEOUT_MS (30000)
Trust:       VIGIL_CA_DIR (default <data-dir>/ca; put your own ca.crt + ca.key there to bring your own CA),
             VIGIL_TLS_NAMES (server certificate names), VIGIL_AGENT_CERT_TTL (7d), VIGIL_API_RATE / _BURST,
             VIGIL_HTTP_TLS_CERT / _KEY (your HTTPS certificate; default: issued by the controller CA on the
             kept key <data-dir>/keys/http-tls.key, whose pin install-command prints), VIGIL_INSECURE_HTTP
Install:     VIGIL_PUBLIC_URL / VIGIL_AGENT_GRPC_ADDR (what install.sh is told; never taken from request
             headers), VIGIL_AGENT_BINARY
Response:    VIGIL_MAX_AUTO_ISOLATIONS_PER_HOUR (5), VIGIL_PROTECTED_TAGS (critical), VIGIL_NEVER_BLOCK (CIDRs)
             VIGIL_EVIDENCE_FILE_ROLES (admin; admin,analyst lets analysts fetch file contents)
Integrations: VIGIL_STREAM_HEARTBEAT (30s), VIGIL_STREAM_MAX_BUFFERED_BYTES (4 MiB; slower clients
             are dropped), VIGIL_STREAM_MAX_CLIENTS (500), VIGIL_STREAM_REPLAY / _REPLAY_EVENTS
             (1000 / 5000 messages kept per topic for resume); VIGIL_WEBHOOK_CONCURRENCY (4),
             VIGIL_WEBHOOK_MAX_ATTEMPTS (8), VIGIL_WEBHOOK_BACKOFF (2s) / _BACKOFF_MAX (10m),
             VIGIL_WEBHOOK_TIMEOUT (10s). GET /metrics takes any API key (give Prometheus a readonly one).
`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  serve: serveCommand,
  migrate: migrateCommand,
  token: tokenCommand,
  apikey: apikeyCommand,
  agent: agentCommand,
  audit: auditCommand,
  rules: rulesCommand,
  iocs: iocsCommand,
  "install-command": installCommandCommand,
  version: async () => {
    console.log(CONTROLLER_VERSION);
    return 0;
  },
};

export async function main(argv: string[]): Promise<number> {
  if (argv.length > 1 && (argv.includes("--help") || argv.includes("-h"))) {
    process.stdout.write(HELP);
    return 0;
  }
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
  // Whatever the controller creates (database, journals, keys, checkpoints) is its own user's alone.
  process.umask(0o077);
  return cmd(rest);
}
