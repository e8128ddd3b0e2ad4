import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrivateAuditd, auditRules, auditdUnavailable } from "../../../agent/test/helpers/private-auditd";
import { spawnAgent, type AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { waitFor } from "../support/wait";

/**
 * The single agent binary as an admin runs it, in its default configuration: it extracts the
 * embedded eBPF helper into its state dir, checks its hash, and reports a 3 ms process with its
 * full command line — or, forced off the kernel feed, says what polling cannot see.
 */
function unavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root (loading BPF programs needs CAP_BPF + CAP_PERFMON)";
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "kernel without BTF";
  return null;
}
const skipReason = unavailable();
if (skipReason) console.log(`SKIP kernel sensor e2e: ${skipReason}`);

interface SensorView {
  name: string;
  running: boolean;
  detail: string;
}

interface AgentView {
  id: string;
  online: boolean;
  status?: { sensors?: SensorView[] };
}

async function sensors(ctl: TestController, agentId?: string): Promise<SensorView[] | undefined> {
  const items = (await request(ctl, "GET", "/api/v1/agents")).body.items as AgentView[] | undefined;
  const a = items?.find((x) => x.online && (!agentId || x.id === agentId));
  const list = a?.status?.sensors;
  return list && list.length > 0 ? list : undefined;
}

describe.skipIf(skipReason !== null)("kernel sensor end to end (SEA binary, default configuration)", () => {
  let ctl: TestController;
  const agents: AgentProcess[] = [];
  let work: string;

  beforeAll(async () => {
    ctl = await startTestController({});
    work = mkdtempSync(join(tmpdir(), "vigil-kernel-e2e-"));
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await ctl?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it("a process that lives milliseconds reaches the controller with its command line and parent", async () => {
    const agent = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--watch", work, "--auth-log", join(work, "none.log")], {
      binary: true,
      env: { VIGIL_KERNEL_SENSOR: "auto" },
    });
    agents.push(agent);
    const list = await waitFor("the agent's sensor health", () => sensors(ctl), 30_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${agent.output()}`);
    });
    const proc = list.find((s) => s.name === "process");
    expect(proc?.detail, agent.output()).toMatch(/^source: ebpf/);
    // Extracted into the state dir, readable by root alone.
    const helper = join(agent.stateDir, "bin", "vigil-ebpf");
    expect((statSync(helper).mode & 0o777).toString(8)).toBe("500");
    expect((statSync(join(agent.stateDir, "bin")).mode & 0o777).toString(8)).toBe("700");

    const marker = `vigil-e2e-${process.pid}-${Date.now()}`;
    const script = join(work, "short.sh");
    writeFileSync(script, `#!/bin/sh\n/bin/echo ${marker} >/dev/null\n`);
    chmodSync(script, 0o755);
    expect(spawnSync(script).status).toBe(0);
    const ev = await waitFor(
      "the echo's exec event",
      async () => {
        const r = await request(ctl, "GET", `/api/v1/events?type=process&q=${encodeURIComponent(marker)}&limit=20`);
        return (r.body.items as { process: { exe: string; commandLine: string; parentCommandLine: string; action: number } }[] | undefined)?.find((e) => e.process.exe === "/bin/echo");
      },
      30_000,
    );
    expect(ev.process.commandLine).toBe(`/bin/echo ${marker}`);
    expect(ev.process.parentCommandLine).toContain(script);

    // DNS, on by default: a lookup and the connect to its answer, as the controller stores them.
    expect(list.find((s) => s.name === "dns")?.detail).toMatch(/^source: ebpf \(UDP port 53/);
    const name = `${marker}.vigil-test.example`;
    const ip = `127.${1 + (process.pid % 250)}.${Date.now() % 250}.7`;
    const ns = `vgl${process.pid}x-dns`; // swept by agent/test/helpers/netns.ts if this run dies
    expect(spawnSync("ip", ["netns", "add", ns]).status).toBe(0);
    try {
      spawnSync("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
      // One process: a DNS server on 127.0.0.1:53, a lookup of `name` on another socket, then a TCP connect to the answer.
      const lookup = `
        const dgram = require("dgram"), net = require("net"); const [name, ip] = process.argv.slice(1);
        const q = Buffer.concat([Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
        const a = Buffer.concat([Buffer.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]), q.subarray(12), Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip.split(".").map(Number)])]);
        const server = dgram.createSocket("udp4").on("message", (m, from) => server.send(a, from.port, from.address));
        const tcp = net.createServer((c) => c.destroy()).listen(8053, ip, () => server.bind(53, "127.0.0.1", () => {
          const client = dgram.createSocket("udp4").on("message", () => net.connect(8053, ip, () => process.exit(0)));
          client.send(q, 53, "127.0.0.1");
        }));
        setTimeout(() => process.exit(3), 5000);`;
      expect(spawnSync("ip", ["netns", "exec", ns, process.execPath, "-e", lookup, name, ip]).status).toBe(0);
    } finally {
      spawnSync("ip", ["netns", "del", ns]);
    }
    const q = encodeURIComponent(name);
    const dns = await waitFor("the dns event", async () => {
      const r = await request(ctl, "GET", `/api/v1/events?type=dns&q=${q}&limit=5`);
      return (r.body.items as { action: string; dns: { queryName: string; queryType: string; answers: string[]; answered: boolean; exe: string } }[] | undefined)?.at(0);
    });
    expect(dns.dns).toMatchObject({ queryName: name, queryType: "A", answers: [ip], answered: true, exe: process.execPath });
    const conn = await waitFor("the connect with its hostname", async () => {
      const r = await request(ctl, "GET", `/api/v1/events?type=network&q=${q}&limit=5`);
      return (r.body.items as { network: { remoteAddress: string; remotePort: number; remoteHostname: string } }[] | undefined)?.at(0);
    });
    expect(conn.network).toMatchObject({ remoteAddress: ip, remotePort: 8053, remoteHostname: name });
  });

  it("forced to /proc polling, the process sensor says what it misses", async () => {
    const agent = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--watch", work, "--auth-log", join(work, "none.log")], {
      env: { VIGIL_KERNEL_SENSOR: "proc" },
    });
    agents.push(agent);
    const id = await waitFor(
      "the second agent",
      async () => {
        const items = (await request(ctl, "GET", "/api/v1/agents")).body.items as AgentView[];
        return items.find((a) => a.online && a.status?.sensors?.find((s) => s.name === "process")?.detail.startsWith("source: /proc"))?.id;
      },
      30_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${agent.output()}`);
    });
    const proc = (await sensors(ctl, id))!.find((s) => s.name === "process")!;
    expect(proc.running).toBe(true);
    expect(proc.detail).toContain("kernel_sensor: proc");
    expect(proc.detail).toContain("processes shorter than the 250 ms scan are missed");
  });

  it("a helper that fails its checks is not run, and the agent falls back saying why", async () => {
    const bad = join(work, "bad-helper");
    writeFileSync(bad, "#!/bin/sh\nexit 0\n");
    chmodSync(bad, 0o777); // writable by anyone: refused before it could run
    const agent = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--watch", work, "--auth-log", join(work, "none.log")], {
      env: { VIGIL_KERNEL_SENSOR: "auto", VIGIL_EBPF_HELPER: bad },
    });
    agents.push(agent);
    const detail = await waitFor(
      "the fallback's health",
      async () => {
        const items = (await request(ctl, "GET", "/api/v1/agents")).body.items as AgentView[];
        return items.map((a) => a.status?.sensors?.find((s) => s.name === "process")?.detail).find((d) => d?.includes("writable by group or others"));
      },
      30_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${agent.output()}`);
    });
    expect(detail).toMatch(/^source: \/proc polling \(eBPF unavailable: .*writable by group or others/);
  });

  const noAuditd = auditdUnavailable();
  it.skipIf(noAuditd !== null)(`forced to auditd (kernel_sensor: audit), a short process still arrives with argv and parent${noAuditd ? ` [SKIP: ${noAuditd}]` : ""}`, async () => {
    const auditd = new PrivateAuditd(join(work, "auditd"));
    await auditd.start();
    try {
      const agent = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--watch", work, "--auth-log", join(work, "none.log")], {
        binary: true,
        env: { VIGIL_KERNEL_SENSOR: "audit", VIGIL_AUDIT_SOCKET: auditd.socket, VIGIL_AUDIT_LOG: auditd.log },
      });
      agents.push(agent);
      const proc = await waitFor(
        "the audit source's health",
        async () => {
          const items = (await request(ctl, "GET", "/api/v1/agents")).body.items as AgentView[];
          return items.map((a) => a.status?.sensors?.find((s) => s.name === "process")).find((s) => s?.detail.startsWith("source: audit"));
        },
        30_000,
      ).catch((e) => {
        throw new Error(`${(e as Error).message}\n${agent.output()}`);
      });
      expect(proc.running).toBe(true);
      expect(proc.detail).toContain(`dispatcher socket ${auditd.socket}`);
      expect(proc.detail).toContain("misses: process exits");
      expect(auditRules()).toContain("key=vigil-exec");

      const marker = `vigil-audit-e2e-${process.pid}-${Date.now()}`;
      const script = join(work, "short-audit.sh");
      writeFileSync(script, `#!/bin/sh\n/bin/echo ${marker} >/dev/null\n`);
      chmodSync(script, 0o755);
      expect(spawnSync(script).status).toBe(0);
      const ev = await waitFor(
        "the echo's exec event from auditd",
        async () => {
          const r = await request(ctl, "GET", `/api/v1/events?type=process&q=${encodeURIComponent(marker)}&limit=20`);
          return (r.body.items as { process: { exe: string; commandLine: string; parentCommandLine: string; source: string } }[] | undefined)?.find(
            (e) => e.process.exe === "/usr/bin/echo" && e.process.source === "audit",
          );
        },
        30_000,
      );
      expect(ev.process.commandLine).toBe(`/bin/echo ${marker}`);
      expect(ev.process.parentCommandLine).toContain(script);
      // Its records were one event: no audit event of that exec reached the controller.
      const audit = await request(ctl, "GET", `/api/v1/events?type=audit&q=${encodeURIComponent(marker)}&limit=20`);
      expect((audit.body.items as unknown[] | undefined)?.length ?? 0).toBe(0);
      await agent.stop();
      expect(auditRules()).not.toContain("vigil-exec");
    } finally {
      await auditd.stop();
    }
  });
});
