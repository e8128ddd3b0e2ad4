import { CommandStatus, type AgentStatus, type Command } from "@vigil/proto";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

export interface FakeHostOptions {
  agentId: string;
  hostname: string;
  ip: string;
  tags?: string[];
  version?: string;
  status?: Partial<AgentStatus>;
}

const HEALTHY: AgentStatus = {
  sensors: [
    { name: "process", running: true, detail: "source: ebpf (15 tracepoints), kernel drops 0", events: 18_234, errors: 0 },
    { name: "file", running: true, detail: "fanotify on /etc, /usr/bin, /tmp", events: 4_410, errors: 0 },
    { name: "network", running: true, detail: "/proc/net polling", events: 9_870, errors: 0 },
    { name: "auth", running: true, detail: "/var/log/auth.log", events: 312, errors: 0 },
  ],
  dropped: {},
  spoolBytes: 48_128,
  spoolRecords: 12,
  isolated: false,
  spoolDiscardedBytes: 0,
  enforcement: "enforce",
  pipelineLost: {},
  unhandledErrors: 0,
  watchdogRestarts: {},
};

/**
 * A host for the console tests: a RawAgent (the real gRPC stream) that reports sensor health
 * and answers the commands the controller sends the way the real agent does: a CommandResult,
 * then a heartbeat whose status reflects the new isolation state.
 */
export class FakeHost {
  readonly agent: RawAgent;
  status: AgentStatus;
  seq = 1;
  private answered = new Set<string>();
  private timer: ReturnType<typeof setInterval>;

  private constructor(
    port: number,
    readonly o: FakeHostOptions,
  ) {
    this.status = { ...HEALTHY, ...o.status };
    this.agent = new RawAgent(port);
    this.agent.hello(o.agentId, {
      hostname: o.hostname,
      os: "Debian GNU/Linux 12",
      kernel: "6.1.0-26-amd64",
      arch: "x64",
      agentVersion: o.version ?? "0.1.0",
      ipAddresses: [o.ip],
      tags: o.tags ?? [],
      status: this.status,
    });
    this.timer = setInterval(() => this.answer(), 50);
  }

  static async connect(port: number, o: FakeHostOptions): Promise<FakeHost> {
    const h = new FakeHost(port, o);
    await waitFor(`${o.agentId} welcome`, () => h.agent.received.some((m) => m.msg?.$case === "welcome"));
    return h;
  }

  commands(): Command[] {
    return this.agent.received.flatMap((m) => (m.msg?.$case === "command" ? [m.msg.command] : []));
  }

  private answer(): void {
    for (const c of this.commands()) {
      if (this.answered.has(c.id)) continue;
      this.answered.add(c.id);
      // A monitor-mode agent reports what it would do and changes nothing (agent/src/enforcement/handler.ts).
      if (this.status.enforcement === "monitor") {
        const wouldDo = { mode: "monitor", wouldDo: [`${c.type} (not done)`] };
        this.agent.send({
          msg: {
            $case: "result",
            result: {
              commandId: c.id,
              status: CommandStatus.COMMAND_STATUS_NOT_ENFORCED,
              reason: "not enforced (monitor)",
              outputJson: JSON.stringify(wouldDo),
              finishedAtMs: Date.now(),
              local: false,
              type: c.type,
            },
          },
        });
        continue;
      }
      const { output, isolated } = outcome(c, this.o.ip);
      this.agent.send({
        msg: {
          $case: "result",
          result: { commandId: c.id, status: CommandStatus.COMMAND_STATUS_SUCCEEDED, reason: "", outputJson: JSON.stringify(output), finishedAtMs: Date.now(), local: false, type: c.type },
        },
      });
      if (isolated !== undefined) {
        this.status = { ...this.status, isolated };
        this.agent.send({ msg: { $case: "heartbeat", heartbeat: { timeMs: Date.now(), status: this.status } } });
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.agent.close();
  }
}

function outcome(c: Command, ip: string): { output: unknown; isolated?: boolean } {
  switch (c.type) {
    case "isolate":
      return { output: { isolated: true, table: "inet vigil_isolation", allowed: ["controller 10.0.0.2:4443"] }, isolated: true };
    case "release":
      return { output: { isolated: false }, isolated: false };
    case "block_ip":
      return { output: { blocked: (JSON.parse(c.paramsJson) as { ip: string }).ip, expiresInSeconds: 3600 } };
    case "collect_evidence":
      return {
        output: {
          processes: [
            { pid: 812, user: "root", exe: "/usr/sbin/sshd", cmdline: "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups" },
            { pid: 4243, user: "alice", exe: "/usr/sbin/sshd", cmdline: "sshd: alice@pts/1" },
            { pid: 4301, user: "alice", exe: "/usr/bin/bash", cmdline: "-bash" },
          ],
          connections: [{ proto: "tcp", local: `${ip}:22`, remote: "203.0.113.50:40001", state: "ESTABLISHED", pid: 4243 }],
        },
      };
    default:
      return { output: { ok: true } };
  }
}
