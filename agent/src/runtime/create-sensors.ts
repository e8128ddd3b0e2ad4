import { join } from "node:path";
import type { AgentConfig } from "../config/config";
import { AuditProcessSensor, AuditSensor } from "../sensors/audit";
import { AuthSensor, JOURNAL_IDENTIFIERS } from "../sensors/auth";
import { EbpfDnsSensor, EbpfHelper, EbpfNetworkSensor, EbpfProcessSensor, FileAttribution, locateHelper } from "../sensors/ebpf";
import { FileSensor } from "../sensors/file";
import { NetworkSensor } from "../sensors/network";
import { PreferredSource, type SourceCandidate } from "../sensors/preferred-source";
import { ProcessSensor } from "../sensors/process";
import type { Sensor } from "../sensors/sensor";
import { SyntheticSensor } from "../sensors/synthetic";
import { SyslogSensor } from "../sensors/syslog";

const POLLING_MISSES = "processes shorter than the 250 ms scan are missed, connections are not tied to short-lived processes, file changes name no process";
const AUDIT_MISSES = "process exits (no exit code or duration), connections are not tied to short-lived processes, file changes name no process";

/** The kernel feed (eBPF) when configured and present; undefined with the reason otherwise. */
function kernelFeed(cfg: AgentConfig): { helper?: EbpfHelper; problem: string } {
  if (cfg.kernelSensor === "proc" || cfg.kernelSensor === "audit") return { problem: `kernel_sensor: ${cfg.kernelSensor}` };
  try {
    const located = locateHelper({ configured: cfg.ebpfHelper, stateDir: cfg.stateDir });
    return { helper: new EbpfHelper({ path: located.path, prefixes: cfg.watch, dns: cfg.sensors.dns }), problem: "" };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/** The sensors the configuration turns on, each with its own slice of the state dir. */
export function createSensors(cfg: AgentConfig): Sensor[] {
  const sensors: Sensor[] = [];
  const { helper, problem } = cfg.sensors.process || cfg.sensors.network || cfg.sensors.file || cfg.sensors.dns ? kernelFeed(cfg) : { problem: "" };
  const kernelProcesses = helper ? new EbpfProcessSensor(helper) : undefined;
  if (cfg.sensors.process) sensors.push(new PreferredSource("process", processSources(cfg, kernelProcesses, problem)));
  // One map per host: a response record is handled in full (its names learned) before the connect record that follows it.
  const dns = cfg.sensors.dns && helper && kernelProcesses ? new EbpfDnsSensor(helper, kernelProcesses, { maxEventsPerSec: cfg.dnsMaxEventsPerSec }) : undefined;
  if (dns) sensors.push(dns);
  // Without the kernel feed nothing sees DNS: the health says so rather than listing no dns sensor at all.
  else if (cfg.sensors.dns) sensors.push(unavailable("dns", problem || "no kernel feed"));
  const hostnames = dns ? (address: string, pid: number) => dns.names.nameOf(address, pid) : undefined;
  let kernelNet: EbpfNetworkSensor | undefined;
  if (cfg.sensors.network) {
    if (helper && kernelProcesses) {
      kernelNet = new EbpfNetworkSensor(helper, kernelProcesses, { hostnames });
      sensors.push(kernelNet);
    }
    const net = kernelNet;
    const poller = new NetworkSensor({
      intervalMs: cfg.networkIntervalMs,
      hostnames,
      alreadyReported: net ? (a, p, pid) => net.alreadyReported(a, p, pid) : undefined,
      kernelFeed: net ? () => net.feeding() : undefined,
    });
    net?.notify(() => poller.changed());
    sensors.push(poller);
  }
  if (cfg.sensors.file) {
    const attribution = helper && kernelProcesses ? new FileAttribution(helper, kernelProcesses) : undefined;
    attribution?.start();
    sensors.push(new FileSensor({ paths: cfg.watch, stateDir: join(cfg.stateDir, "file"), attribute: attribution ? (p) => attribution.lookup(p) : undefined, kernel: attribution }));
  }
  if (cfg.sensors.auth) sensors.push(new AuthSensor({ path: cfg.authLog, stateDir: join(cfg.stateDir, "auth") }));
  if (cfg.sensors.audit) sensors.push(new AuditSensor({ path: cfg.auditLog, stateDir: join(cfg.stateDir, "audit"), types: cfg.auditTypes, maxEventsPerSec: cfg.auditMaxEventsPerSec }));
  if (cfg.sensors.syslog) sensors.push(new SyslogSensor({ path: cfg.systemLog, exclude: JOURNAL_IDENTIFIERS, stateDir: join(cfg.stateDir, "syslog") }));
  if (cfg.syntheticRate > 0) sensors.push(new SyntheticSensor({ rate: cfg.syntheticRate, count: cfg.syntheticCount, mix: cfg.syntheticMix, stateDir: join(cfg.stateDir, "synthetic") }));
  if (helper) sensors.push(new HelperStopper(helper));
  return sensors;
}

/**
 * Where exec events come from, best first: eBPF, else auditd's exec records, else /proc polling.
 * kernel_sensor other than auto forces one source with no fallback: when it cannot run, the
 * process sensor says why instead of quietly seeing less.
 */
function processSources(cfg: AgentConfig, kernelProcesses: EbpfProcessSensor | undefined, problem: string): SourceCandidate[] {
  const ebpf: SourceCandidate = { source: "ebpf", create: () => kernelProcesses ?? unavailable("process", problem), misses: "" };
  const audit: SourceCandidate = {
    source: "audit",
    create: () => new AuditProcessSensor({ stateDir: join(cfg.stateDir, "audit-exec"), logPath: cfg.auditLog, socketPath: cfg.auditSocket }),
    misses: AUDIT_MISSES,
  };
  const poll: SourceCandidate = { source: "/proc polling", create: () => new ProcessSensor({ intervalMs: cfg.processIntervalMs }), misses: POLLING_MISSES };
  switch (cfg.kernelSensor) {
    case "ebpf":
      return [ebpf];
    case "audit":
      return [{ ...audit, source: "audit (kernel_sensor: audit)" }];
    case "proc":
      return [{ ...poll, source: "/proc polling (kernel_sensor: proc)" }];
    default:
      return [ebpf, audit, poll];
  }
}

/** A preferred source that cannot start, carrying why, so the fallback's health names it. */
function unavailable(name: string, why: string): Sensor {
  const detail = `eBPF unavailable: ${why}`;
  return {
    name,
    start: async () => {},
    stop: async () => {},
    health: () => ({ name, running: false, detail, events: 0, errors: 0 }),
  };
}

/**
 * Stops the shared helper after the sensors that read it (sensors stop in order). Its health is
 * the helper's own: kernel drops and restarts are visible, never silent.
 */
class HelperStopper implements Sensor {
  readonly name = "ebpf";
  constructor(private readonly helper: EbpfHelper) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {
    await this.helper.stop();
  }
  health() {
    const s = this.helper.stats;
    const running = this.helper.status === "";
    return {
      name: this.name,
      running,
      detail: `${running ? `${s.programs} tracepoints` : this.helper.status}; kernel drops ${s.kernelDrops}, restarts ${s.restarts}, decode errors ${s.decodeErrors}`,
      events: s.records,
      errors: s.kernelDrops + s.decodeErrors,
    };
  }
}
