import { credentials as grpcCredentials, type ChannelCredentials } from "@grpc/grpc-js";
import { writeFileAtomic } from "../platform/linux/atomic-file";
import { join } from "node:path";
import { Backoff, type AgentStatus, type Command, type CommandResult, type Hello, type Inventory } from "@vigil/proto";
import { InventoryReporter } from "../inventory";
import type { AgentConfig } from "../config/config";
import { collectHostFacts, type HostFacts } from "../platform/linux";
import { EventPipeline } from "../pipeline/event-pipeline";
import type { Sensor } from "../sensors/sensor";
import { DiskSpool } from "../spool";
import { ControllerLink } from "../transport/controller-link";
import type { Log } from "../util/log";
import { processFaults } from "../util/process-faults";
import { EXIT_WATCHDOG, Watchdog, type WatchdogReason } from "../watchdog/watchdog";
import { loadLedger, recordBreach, restartDelayMs, type RestartLedger } from "../watchdog/restart-ledger";
import { AGENT_VERSION } from "../version";
import { loadOrCreateAgentId } from "./agent-identity";
import { ResponseWiring } from "./response-wiring";

/** How long a healed spool that lost its seq counter waits for the controller before sensors start. */
const RESYNC_WAIT_MS = 15_000;
/** Exit code after a fatal refusal with on_fatal: exit (EX_CONFIG from sysexits.h). */
export const EXIT_FATAL_REFUSAL = 78;

export interface RuntimeParts {
  sensors: Sensor[];
  credentials?: () => ChannelCredentials;
  /** Handles a controller command; defaults to the response wiring (verify, execute, report). */
  onCommand?: (cmd: Command) => Promise<CommandResult>;
  /** Replaces the inventory child process (tests). */
  collectInventory?: (reason: string) => Promise<Inventory>;
  /** How the process ends after a watchdog breach; default process.exit. */
  exit?: (code: number) => void;
}

/** Wires sensors → pipeline → spool → link, and writes a status file for `vigil-agent status`. */
export class AgentRuntime {
  readonly agentId: string;
  readonly spool: DiskSpool;
  readonly pipeline: EventPipeline;
  readonly link: ControllerLink;
  /** Enforcement, signed commands, pinned key, local policy. */
  readonly response: ResponseWiring;
  private statusTimer?: NodeJS.Timeout;
  private readonly watchdog: Watchdog;
  private ledger: RestartLedger = { restarts: {}, consecutive: 0, lastBreachMs: 0 };
  private allocTimer?: NodeJS.Timeout;
  private readonly hoard: Buffer[] = [];
  private readonly startedAt = Date.now();
  private facts?: HostFacts;
  /** Host inventory at first connection, daily and on request, collected in a short-lived child. */
  readonly inventory: InventoryReporter;

  constructor(
    private readonly cfg: AgentConfig,
    private readonly parts: RuntimeParts,
    private readonly log: Log,
  ) {
    this.agentId = loadOrCreateAgentId(cfg.stateDir);
    this.spool = DiskSpool.open({ dir: join(cfg.stateDir, "spool"), maxBytes: cfg.spoolMaxBytes, fsync: cfg.spoolFsync, fsyncIntervalMs: cfg.spoolFsyncIntervalMs, fullPolicy: cfg.spoolFullPolicy });
    for (const w of this.spool.warnings) log.warn("spool repaired at open", { problem: w });
    this.pipeline = new EventPipeline(this.spool, log);
    this.watchdog = new Watchdog({
      maxRssBytes: cfg.watchdogMaxRssMb * 1024 * 1024,
      maxCpuPercent: cfg.watchdogMaxCpuPercent,
      windowMs: cfg.watchdogWindowMs,
      onBreach: (reason, detail) => this.onWatchdogBreach(reason, detail),
    });
    this.response = new ResponseWiring({ cfg, agentId: this.agentId, pipeline: this.pipeline, link: () => this.link, hostname: () => this.facts?.hostname ?? "", log });
    this.inventory = new InventoryReporter({
      stateDir: cfg.stateDir,
      send: (inv) => this.link.send({ msg: { $case: "inventory", inventory: inv } }),
      log,
      collect: parts.collectInventory,
    });
    this.link = new ControllerLink({
      address: cfg.controller,
      credentials: parts.credentials ?? (() => grpcCredentials.createInsecure()),
      spool: this.spool,
      hello: () => this.hello(),
      status: () => this.status(),
      onCommand: parts.onCommand ?? ((cmd) => this.response.handleCommand(cmd)),
      onWelcome: (w) => this.response.onWelcome(w),
      onPolicy: (p) => this.response.onPolicy(p),
      onPolicyRefused: (version, reason) => this.response.policy.refuse(version, reason),
      onConnected: () => this.inventory.onConnected(),
      onInventoryRequest: () => this.inventory.onRequest(),
      log,
      heartbeatMs: cfg.heartbeatMs,
      backoff: new Backoff({ baseMs: Math.min(500, cfg.backoffMaxMs), capMs: cfg.backoffMaxMs }),
      fatalBackoffMs: cfg.fatalBackoffMs,
      onFatal: (reason) => {
        if (cfg.onFatal !== "exit") return;
        // EX_CONFIG: the service manager should not restart into the same refusal (RestartPreventExitStatus=78).
        log.error("exiting: the controller refused this agent (on_fatal: exit)", { reason });
        process.exitCode = EXIT_FATAL_REFUSAL;
        void this.stop().finally(() => process.exit(EXIT_FATAL_REFUSAL));
      },
    });
  }

  async start(): Promise<void> {
    // Containment first: a restarted agent re-isolates before it does anything else.
    await this.response.start();
    this.ledger = loadLedger(this.cfg.stateDir);
    const hold = restartDelayMs(this.ledger);
    if (hold > 0) {
      // A watchdog restart loop: containment is back, the rest waits a little longer each time.
      this.log.warn("watchdog restarted the agent again shortly after the last time; backing off before starting sensors", {
        delayMs: hold,
        consecutive: this.ledger.consecutive,
        lastReason: this.ledger.lastReason,
      });
      await new Promise((r) => setTimeout(r, hold));
    }
    this.watchdog.start();
    this.startTestAllocation();
    this.facts = await collectHostFacts();
    if (this.spool.resyncPending) {
      // A healed spool lost its seq counter: let the controller's Welcome restore it before new
      // events are numbered (bounded: an unreachable controller must not keep the sensors off).
      this.link.start();
      const restored = await this.spool.waitForResync(RESYNC_WAIT_MS);
      if (!restored) this.log.warn("controller not reached to restore the seq counter; numbering resumes from the spool", { waitedMs: RESYNC_WAIT_MS });
    }
    for (const s of this.parts.sensors) {
      try {
        await s.start(this.pipeline);
      } catch (err) {
        // One blind sensor must not blind the others.
        this.log.error("sensor failed to start", { sensor: s.name, error: String(err) });
      }
      const h = s.health();
      if (!h.running) this.log.warn("sensor not running", { sensor: s.name, detail: h.detail });
      else if (h.detail) this.log.info("sensor started", { sensor: s.name, detail: h.detail });
    }
    this.inventory.start();
    this.link.start();
    this.writeStatus();
    this.statusTimer = setInterval(() => this.writeStatus(), 5_000);
    this.statusTimer.unref();
    this.log.info("agent started", { agentId: this.agentId, controller: this.cfg.controller, stateDir: this.cfg.stateDir, sensors: this.parts.sensors.map((s) => s.name) });
  }

  async stop(): Promise<void> {
    this.watchdog.stop();
    clearInterval(this.allocTimer);
    clearInterval(this.statusTimer);
    this.inventory.stop();
    this.response.stop();
    for (const s of this.parts.sensors) await s.stop().catch(() => undefined);
    this.pipeline.close();
    await this.link.stop();
    this.writeStatus();
    this.spool.close();
  }

  /** A ceiling held for the whole window: count it, stop cleanly (the spool is on disk), exit for the service manager. */
  private onWatchdogBreach(reason: WatchdogReason, detail: string): void {
    this.log.error("watchdog: ceiling exceeded; the agent exits to be restarted", { reason, detail, exitCode: EXIT_WATCHDOG });
    try {
      this.ledger = recordBreach(this.cfg.stateDir, reason, detail);
    } catch (err) {
      this.log.error("watchdog: could not record the restart", { error: String(err) });
    }
    this.hoard.length = 0;
    const exit = this.parts.exit ?? ((code: number) => process.exit(code));
    // Bounded: an agent sick enough to breach may not manage a clean stop.
    const force = setTimeout(() => exit(EXIT_WATCHDOG), 10_000);
    force.unref();
    const done = (): void => {
      clearTimeout(force);
      exit(EXIT_WATCHDOG);
    };
    void this.stop().then(done, done);
  }

  /** VIGIL_TEST_ALLOCATE_MB_PER_S: grows resident memory on purpose so tests can drive the watchdog. */
  private startTestAllocation(): void {
    const perTick = Math.round((this.cfg.testAllocateMbPerSec * 1024 * 1024) / 10);
    if (perTick <= 0) return;
    this.log.warn("test hook: allocating memory on purpose", { mibPerSecond: this.cfg.testAllocateMbPerSec });
    // Buffer.alloc zero-fills, which touches every page: it counts in RSS at once.
    this.allocTimer = setInterval(() => this.hoard.push(Buffer.alloc(perTick, 1)), 100);
    this.allocTimer.unref();
  }

  hello(): Hello {
    const f = this.facts;
    return {
      agentId: this.agentId,
      hostname: f?.hostname ?? "",
      os: f?.os ?? "",
      kernel: f?.kernel ?? "",
      arch: f?.arch ?? "",
      agentVersion: AGENT_VERSION,
      ipAddresses: f?.ipAddresses ?? [],
      tags: this.cfg.tags,
      bootTimeMs: f?.bootTimeMs ?? 0,
      lastSeq: this.spool.stats().lastSeq,
      status: this.status(),
      timeMs: Date.now(),
    };
  }

  status(): AgentStatus {
    const s = this.spool.stats();
    return {
      sensors: this.parts.sensors.map((x) => x.health()),
      dropped: s.dropped,
      spoolBytes: s.bytes,
      spoolRecords: s.records,
      isolated: this.response.isolated(),
      spoolDiscardedBytes: s.discardedBytes,
      acksBeyondLast: s.acksBeyondLast,
      enforcement: this.cfg.enforcement,
      pipelineLost: this.pipeline.lost(),
      unhandledErrors: processFaults.count,
      watchdogRestarts: { ...this.ledger.restarts },
    };
  }

  private writeStatus(): void {
    const file = join(this.cfg.stateDir, "status.json");
    const body = {
      agentId: this.agentId,
      version: AGENT_VERSION,
      pid: process.pid,
      startedAt: new Date(this.startedAt).toISOString(),
      updatedAt: new Date().toISOString(),
      controller: this.cfg.controller,
      connected: this.link.stats.connected,
      link: this.link.stats,
      spool: this.spool.stats(),
      pipeline: { lost: this.pipeline.lost(), held: this.pipeline.heldCount, blockedEpisodes: this.pipeline.blockedEpisodes },
      faults: { ...processFaults },
      sensors: this.parts.sensors.map((x) => x.health()),
      rssBytes: process.memoryUsage.rss(),
    };
    try {
      // Rewritten every 5 s and worthless after a power loss: renamed into place, not fsynced.
      writeFileAtomic(file, JSON.stringify(body, null, 2), { durable: false });
    } catch (err) {
      this.log.warn("could not write status file", { file, error: String(err) });
    }
  }
}
