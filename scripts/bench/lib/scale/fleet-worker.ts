/**
 * One process of the scale bench's simulated fleet (bench:scale forks several, so 10,000 TLS
 * clients are spread over cores): runs SimAgents over real mTLS gRPC and reports over IPC.
 */
import { Event } from "@vigil/proto";
import { SimAgent, type FleetIdentity } from "../../../../controller/test/support/mtls-fleet";

interface Start {
  kind: "start";
  ids: FleetIdentity[];
  firstIndex: number;
  caPem: string;
  addresses: string[];
  /** Steady events per agent per second; bursts on top. */
  rate: number;
}

const LATENCY_SAMPLES = 20_000;
let agents: SimAgent[] = [];
let samples: number[] = [];
let seen = 0;

/** Reservoir sample of ack latencies (produce → ack, ms), weighted by event count. */
function observe(ms: number, events: number): void {
  for (let i = 0; i < Math.min(events, 8); i++) {
    seen++;
    if (samples.length < LATENCY_SAMPLES) samples.push(ms);
    else {
      const j = Math.floor(Math.random() * seen);
      if (j < LATENCY_SAMPLES) samples[j] = ms;
    }
  }
}

const USERS = ["root", "www-data", "deploy", "postgres", "alice"];
const EXES = ["/usr/bin/curl", "/usr/bin/python3", "/usr/sbin/sshd", "/usr/bin/bash", "/usr/lib/postgresql/16/bin/postgres", "/usr/bin/git"];

/** A realistic mix: mostly process starts and connections, some auth, varied strings. */
function event(seq: number, host: number): Event {
  const t = Date.now();
  const k = (seq * 7 + host) % 10;
  const exe = EXES[(seq + host) % EXES.length];
  const user = USERS[seq % USERS.length];
  if (k < 5)
    return Event.fromPartial({
      seq,
      eventTimeMs: t,
      body: {
        $case: "process",
        process: { action: 1, pid: 1000 + (seq % 30000), ppid: 1, exe, commandLine: `${exe} --job ${seq % 977} --host h${host}`, user, cwd: "/srv/app", parentExe: "/usr/bin/bash" },
      },
    });
  if (k < 9)
    return Event.fromPartial({
      seq,
      eventTimeMs: t,
      body: {
        $case: "network",
        network: {
          action: 1,
          protocol: "tcp",
          localAddress: "10.0.0.5",
          localPort: 40000 + (seq % 20000),
          remoteAddress: `93.184.${host % 255}.${seq % 255}`,
          remotePort: 443,
          direction: 2,
          pid: 1000 + (seq % 5000),
          exe,
          user,
        },
      },
    });
  return Event.fromPartial({
    seq,
    eventTimeMs: t,
    body: { $case: "auth", auth: { action: 1, user, sourceIp: `10.1.${host % 255}.${seq % 255}`, service: "sshd", raw: `Accepted publickey for ${user}` } },
  });
}

process.on("message", (m: Start | { kind: "stop" }) => {
  if (m.kind === "start") {
    agents = m.ids.map((id, i) => {
      const index = m.firstIndex + i;
      return new SimAgent(
        {
          id,
          caPem: m.caPem,
          addresses: m.addresses,
          first: index,
          total: Number.MAX_SAFE_INTEGER,
          perTick: m.rate,
          tickMs: 1_000,
          maxBatch: 500,
          index,
          event,
          // Reconnects as the real agent does (exponential backoff with full jitter).
          agentBackoff: true,
          burst: { every: 30, size: 20 * m.rate },
        },
        observe,
      );
    });
    // Not all at once: a fleet coming online over a few seconds, as after a controller restart.
    let i = 0;
    const startSome = () => {
      for (let n = 0; n < 50 && i < agents.length; n++) agents[i++].start();
      if (i < agents.length) setTimeout(startSome, 20);
    };
    startSome();
    const report = setInterval(() => {
      process.send?.({
        kind: "stats",
        connected: agents.filter((a) => a.connected).length,
        produced: agents.reduce((n, a) => n + a.produced, 0),
        acked: agents.reduce((n, a) => n + a.acked, 0),
        forgotten: agents.reduce((n, a) => n + a.forgotten, 0),
        connects: agents.reduce((n, a) => n + a.connects, 0),
        errors: agents.reduce((n, a) => n + a.errors, 0),
        latencies: samples,
      });
      samples = [];
      seen = 0;
    }, 1_000);
    report.unref();
  } else {
    for (const a of agents) a.stop();
    setTimeout(() => process.exit(0), 200);
  }
});
