import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { spawnAgent, type AgentProcess } from "./agent-process";
import type { TestController } from "./controller";
import { waitFor } from "./wait";

function classicStamp(d: Date): string {
  const mon = d.toLocaleString("en-US", { month: "short" });
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${mon} ${String(d.getDate()).padStart(2, " ")} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The issue's end-to-end check: a file, a process, a connection and an auth
 * line made here on this host reach `GET /api/v1/events` through the real agent.
 */
export async function runLoopScenario(ctl: TestController, opts: { binary?: boolean } = {}): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "vigil-e2e-"));
  const watchDir = join(work, "watched");
  const authLog = join(work, "auth.log");
  mkdirSync(watchDir);
  writeFileSync(authLog, "");
  const tag = randomUUID().slice(0, 8);
  const agent: AgentProcess = spawnAgent(["--controller", `127.0.0.1:${ctl.grpcPort}`, "--watch", watchDir, "--auth-log", authLog], { binary: opts.binary });
  let server: Server | undefined;
  let client: Socket | undefined;
  try {
    const agentId = await waitFor(
      "the agent to come online",
      async () => {
        const r = await ctl.get("/api/v1/agents");
        return r.body.items?.find((a: { online: boolean }) => a.online)?.id as string | undefined;
      },
      30_000,
    ).catch((e) => {
      throw new Error(`${e.message}\nagent output:\n${agent.output()}`);
    });

    // A file in a watched directory.
    const filePath = join(watchDir, `evidence-${tag}.txt`);
    writeFileSync(filePath, `payload ${tag}\n`);

    // A process with a unique argv; it lives long enough for a 1 s snapshot to see it.
    const proc = spawn("sh", ["-c", `sleep 3; : vigil-e2e-${tag}`], { stdio: "ignore" });

    // A TCP listener and a connection to it, held open until the sensor has seen it.
    server = createServer((s) => s.on("error", () => undefined));
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    client = connect(port, "127.0.0.1");

    // An auth line as sshd writes it.
    const user = `e2e${tag}`;
    appendFileSync(authLog, `${classicStamp(new Date())} testhost sshd[4242]: Failed password for invalid user ${user} from 198.51.100.77 port 50122 ssh2\n`);

    const fileEv = await waitFor("the file event", async () => (await ctl.get(`/api/v1/events?type=file&q=${encodeURIComponent(`evidence-${tag}`)}`)).body.items?.[0]);
    expect(fileEv.agentId).toBe(agentId);
    expect(fileEv.file.path).toBe(filePath);
    expect(fileEv.file.sha256After).toMatch(/^[0-9a-f]{64}$/);

    // The shell's forked child carries the same command line until it execs
    // `sleep`, so a scan may report it too: look for the shell itself by pid.
    const procEv = await waitFor("the process event", async () =>
      (await ctl.get(`/api/v1/events?type=process&q=vigil-e2e-${tag}`)).body.items?.find((e: { action: string; process: { pid: number } }) => e.action === "start" && e.process.pid === proc.pid),
    );
    expect(procEv.process.pid).toBe(proc.pid);
    expect(procEv.process.commandLine).toContain(`vigil-e2e-${tag}`);
    expect(procEv.process.ppid).toBe(process.pid);

    const netEv = await waitFor("the connection event", async () =>
      (await ctl.get(`/api/v1/events?type=network&q=${port}`)).body.items?.find(
        (e: { network: { direction: string; remotePort?: number } }) => e.network.direction === "outbound" && e.network.remotePort === port,
      ),
    );
    expect(netEv.network.remoteAddress).toBe("127.0.0.1");
    expect(netEv.network.pid).toBe(process.pid);

    const authEv = await waitFor("the auth event", async () => (await ctl.get(`/api/v1/events?type=auth&q=${user}`)).body.items?.[0]);
    expect(authEv.action).toBe("login_failure");
    expect(authEv.auth.sourceIp).toBe("198.51.100.77");
    expect(authEv.auth.user).toBe(user);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- agent output ---\n${agent.output().slice(-4000)}`, { cause: err });
  } finally {
    client?.destroy();
    server?.close();
    await agent.stop();
  }
}
