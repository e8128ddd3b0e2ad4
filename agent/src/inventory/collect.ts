import { readFile } from "node:fs/promises";
import { INVENTORY_LIMITS, type Inventory, type InventoryListener, type InventoryPackage, type InventoryUser } from "@vigil/proto";

const clip = (s: unknown): string => String(s ?? "").slice(0, INVENTORY_LIMITS.text);

/** Installed packages from dpkg's status database (Debian, Ubuntu): "install ok installed" only. */
export function parseDpkgStatus(text: string): InventoryPackage[] {
  const out: InventoryPackage[] = [];
  for (const stanza of text.split(/\n\n+/)) {
    let name = "";
    let version = "";
    let installed = false;
    for (const line of stanza.split("\n")) {
      if (line.startsWith("Package: ")) name = line.slice(9).trim();
      else if (line.startsWith("Version: ")) version = line.slice(9).trim();
      else if (line.startsWith("Status: ")) installed = line.endsWith(" installed");
    }
    if (name && installed) out.push({ name: clip(name), version: clip(version) });
  }
  return out;
}

/** Accounts from /etc/passwd (all of them: a backdoor account is what an analyst looks for). */
export function parsePasswdUsers(text: string): InventoryUser[] {
  const out: InventoryUser[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 7 || !f[0]) continue;
    const uid = Number(f[2]);
    if (!Number.isInteger(uid) || uid < 0) continue;
    out.push({ name: clip(f[0]), uid, home: clip(f[5]), shell: clip(f[6]) });
  }
  return out;
}

async function packages(errors: string[]): Promise<InventoryPackage[]> {
  try {
    return parseDpkgStatus(await readFile("/var/lib/dpkg/status", "utf8"));
  } catch {
    /* not a dpkg system */
  }
  try {
    const { execFile } = await import("node:child_process");
    const out = await new Promise<string>((resolve, reject) =>
      execFile("rpm", ["-qa", "--qf", "%{NAME}\\t%{VERSION}-%{RELEASE}\\n"], { maxBuffer: 32 << 20, timeout: 60_000 }, (err: Error | null, stdout: string) => (err ? reject(err) : resolve(stdout))),
    );
    return out
      .split("\n")
      .filter(Boolean)
      .map((l) => ({ name: clip(l.split("\t")[0]), version: clip(l.split("\t")[1]) }));
  } catch {
    errors.push("packages: neither a dpkg database nor rpm");
    return [];
  }
}

/**
 * The whole inventory. Loads systeminformation, which is why it runs in a short-lived child
 * process (`vigil-agent inventory`), never in the agent itself: measured, it costs ~10 MB of
 * resident memory and spawns helpers on several calls.
 */
export async function collectInventory(reason: string): Promise<Inventory> {
  const si = await import("systeminformation");
  const errors: string[] = [];
  const attempt = async <T>(what: string, f: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      errors.push(`${what}: ${(err as Error).message}`.slice(0, 300));
      return fallback;
    }
  };
  const [os, cpu, mem, fs, ifaces, conns, pkgs, passwd] = await Promise.all([
    attempt("os", () => si.osInfo(), undefined),
    attempt("cpu", () => si.cpu(), undefined),
    attempt("memory", () => si.mem(), undefined),
    attempt("disks", () => si.fsSize(), []),
    attempt(
      "interfaces",
      async () => {
        const r = await si.networkInterfaces();
        return Array.isArray(r) ? r : [r];
      },
      [],
    ),
    attempt("listeners", () => si.networkConnections(), []),
    packages(errors),
    attempt("users", () => readFile("/etc/passwd", "utf8"), ""),
  ]);
  const listeners: InventoryListener[] = conns
    .filter((c) => c.state === "LISTEN" || (c.protocol.startsWith("udp") && (c.peerAddress === "0.0.0.0" || c.peerAddress === "*" || c.peerAddress === "")))
    .slice(0, INVENTORY_LIMITS.listeners)
    .map((c) => ({ protocol: clip(c.protocol), address: clip(c.localAddress), port: Number(c.localPort) || 0, process: clip(c.process), pid: Number(c.pid) || 0 }));
  const byIface = new Map<string, { name: string; mac: string; addresses: string[] }>();
  for (const i of ifaces) {
    const e = byIface.get(i.iface) ?? { name: clip(i.iface), mac: clip(i.mac), addresses: [] };
    for (const a of [i.ip4, i.ip6]) if (a && e.addresses.length < INVENTORY_LIMITS.addressesPerInterface) e.addresses.push(clip(a));
    byIface.set(i.iface, e);
  }
  return {
    collectedAtMs: Date.now(),
    reason: clip(reason),
    hostname: clip(os?.hostname),
    os: clip(os ? `${os.distro} ${os.release}`.trim() : ""),
    kernel: clip(os?.kernel),
    arch: clip(os?.arch),
    cpuModel: clip(cpu ? `${cpu.manufacturer} ${cpu.brand}`.trim() : ""),
    cpuCores: cpu?.cores ?? 0,
    memoryBytes: mem?.total ?? 0,
    disks: fs.slice(0, INVENTORY_LIMITS.disks).map((d) => ({ mount: clip(d.mount), fs: clip(d.type), sizeBytes: Math.max(0, d.size || 0), usedBytes: Math.max(0, d.used || 0) })),
    interfaces: [...byIface.values()].slice(0, INVENTORY_LIMITS.interfaces),
    users: parsePasswdUsers(passwd).slice(0, INVENTORY_LIMITS.users),
    listeners,
    packages: pkgs.slice(0, INVENTORY_LIMITS.packages),
    packagesTotal: pkgs.length,
    errors: errors.slice(0, INVENTORY_LIMITS.errors),
  };
}
