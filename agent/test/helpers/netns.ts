/**
 * Throwaway network namespaces for enforcement and full-agent tests.
 *
 * Layout: every node namespace has one veth "eth0" into a switch namespace holding a
 * bridge, all on a private /24 (10.231.X.0/24) and /64 (fd00:231:X::/64) that exist
 * only inside these namespaces. Nothing is configured in the root namespace, so rules
 * applied in a node can never affect the machine the tests run on.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { type CommandRunner, type RunOptions, type RunResult, createRunner } from "../../src/enforcement/runner";

export interface NetNode {
  /** Logical name given to createTopology ("host", "controller", ...). */
  name: string;
  /** The real namespace name (unique per run). */
  ns: string;
  ip4: string;
  ip6: string;
  /** Runs argv inside this namespace. */
  run: CommandRunner;
}

export interface NetTopology {
  nodes: Record<string, NetNode>;
  /** Shorthands for the default three-node layout. */
  host: NetNode;
  controller: NetNode;
  outside: NetNode;
  subnet4: string;
  subnet6: string;
  /** A TCP echo server inside `node`, listening on all v4 and v6 addresses. */
  listen(node: NetNode, port: number): Promise<{ close(): void }>;
  /** Whether a TCP connect from `from` to ip:port completes within timeoutMs. */
  canConnect(from: NetNode, ip: string, port: number, timeoutMs?: number): Promise<boolean>;
  /** Deletes every namespace (and with them the veths) and stops listeners. Idempotent. */
  destroy(): Promise<void>;
}

const root = createRunner();
const PREFIX = "vgl";

async function must(run: CommandRunner, argv: string[], opts?: RunOptions): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.trim()}`);
  return r;
}

/** Why namespace tests cannot run here, or null when they can. */
export async function netnsUnavailableReason(): Promise<string | null> {
  if (process.getuid?.() !== 0) return "not root: network namespaces and nftables need root";
  if ((await root(["ip", "-V"])).code !== 0) return "iproute2 (ip) not installed";
  if ((await root(["nft", "--version"])).code !== 0) return "nftables (nft) not installed";
  return null;
}

/** Removes namespaces left by earlier runs whose process has died (crash, kill -9). */
async function sweepStale(): Promise<void> {
  const r = await root(["ip", "netns", "list"]);
  for (const line of r.stdout.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = new RegExp(`^${PREFIX}(\\d+)x`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) await root(["ip", "netns", "del", name]);
  }
}

let counter = 0;

export async function createTopology(names: readonly string[] = ["host", "controller", "outside"]): Promise<NetTopology> {
  if (names.length === 0 || names.length > 200) throw new Error("createTopology: 1..200 node names");
  await sweepStale();
  const tag = `${PREFIX}${process.pid}x${counter++}`;
  const octet = 1 + Math.floor(Math.random() * 254);
  const sw = `${tag}-sw`;
  const created: string[] = [];
  const listeners = new Set<ChildProcess>();
  let destroyed = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    process.off("exit", destroySync);
    for (const c of listeners) c.kill("SIGKILL");
    for (const ns of created) await root(["ip", "netns", "del", ns]);
  };
  // Last resort when the test process exits without running afterAll.
  const destroySync = (): void => {
    for (const c of listeners) c.kill("SIGKILL");
    for (const ns of created) {
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
      } catch {
        /* already gone */
      }
    }
  };
  process.on("exit", destroySync);

  try {
    await must(root, ["ip", "netns", "add", sw]);
    created.push(sw);
    const swRun = createRunner(["ip", "netns", "exec", sw]);
    await must(swRun, ["ip", "link", "add", "br0", "type", "bridge"]);
    await must(swRun, ["ip", "link", "set", "br0", "up"]);

    const nodes: Record<string, NetNode> = {};
    for (const [i, name] of names.entries()) {
      const ns = `${tag}-${name}`;
      await must(root, ["ip", "netns", "add", ns]);
      created.push(ns);
      const run = createRunner(["ip", "netns", "exec", ns]);
      const port = `p${i}`;
      const host = 10 + i;
      const ip4 = `10.231.${octet}.${host}`;
      const ip6 = `fd00:231:${octet.toString(16)}::${host.toString(16)}`;
      await must(run, ["ip", "link", "set", "lo", "up"]);
      await must(run, ["ip", "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", sw]);
      await must(run, ["ip", "addr", "add", `${ip4}/24`, "dev", "eth0"]);
      // nodad: usable at once instead of after duplicate address detection (~1-2 s).
      await must(run, ["ip", "-6", "addr", "add", `${ip6}/64`, "dev", "eth0", "nodad"]);
      await must(run, ["ip", "link", "set", "eth0", "up"]);
      await must(swRun, ["ip", "link", "set", port, "master", "br0", "up"]);
      nodes[name] = { name, ns, ip4, ip6, run };
    }

    const listen = async (node: NetNode, port: number): Promise<{ close(): void }> => {
      const script =
        "const s=require('net').createServer(c=>{c.on('error',()=>{});c.pipe(c)});" + "s.listen({port:Number(process.argv[1]),host:'::',ipv6Only:false},()=>process.stdout.write('ready\\n'))";
      const child = spawn("ip", ["netns", "exec", node.ns, process.execPath, "-e", script, String(port)], { stdio: ["ignore", "pipe", "pipe"] });
      listeners.add(child);
      await new Promise<void>((resolve, reject) => {
        let err = "";
        child.stderr.on("data", (b: Buffer) => (err += b.toString()));
        child.stdout.on("data", (b: Buffer) => {
          if (b.toString().includes("ready")) resolve();
        });
        child.on("exit", (code) => reject(new Error(`listener in ${node.name} exited (${code}): ${err}`)));
      });
      return {
        close: () => {
          child.kill("SIGKILL");
          listeners.delete(child);
        },
      };
    };

    const canConnect = async (from: NetNode, ip: string, port: number, timeoutMs = 1000): Promise<boolean> => {
      // bash's /dev/tcp gives a plain connect(); `timeout` bounds the wait for a dropped SYN.
      const r = await from.run(["timeout", `${timeoutMs / 1000}`, "bash", "-c", `exec 3<>/dev/tcp/${ip}/${port}`], { timeoutMs: timeoutMs + 5000 });
      return r.code === 0;
    };

    const need = (n: string): NetNode => {
      const node = nodes[n] ?? nodes[names[0] as string];
      if (!node) throw new Error("no nodes");
      return node;
    };
    return {
      nodes,
      host: need("host"),
      controller: need("controller"),
      outside: need("outside"),
      subnet4: `10.231.${octet}.0/24`,
      subnet6: `fd00:231:${octet.toString(16)}::/64`,
      listen,
      canConnect,
      destroy,
    };
  } catch (e) {
    await destroy();
    throw e;
  }
}

/** Polls `cond` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, intervalMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
