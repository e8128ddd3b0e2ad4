import type { Provider } from "@nestjs/common";
import type { DataSource } from "typeorm";
import type { AgentRegistry } from "../agents/agent-registry";
import { IocRepository } from "../database/repositories/ioc-repository";
import { RuleRepository } from "../database/repositories/rule-repository";
import { LoginBaselineRepository } from "../database/repositories/login-baseline-repository";
import { SqlBatch } from "../database/sql-batch";
import { AgentDirectory } from "../detection/agent-directory";
import type { AlertSink } from "../detection/event-meta";
import { IocCatalog } from "../detection/ioc-catalog";
import { LoginBaselines } from "../detection/login-baselines";
import { detectionOptions, type DetectionOptions } from "../detection/options";
import type { CorrelationRouter } from "../detection/correlation-router";
import { DetectionPipeline } from "../detection/pipeline";
import { RuleCatalog } from "../detection/rule-catalog";
import type { IngestWriter } from "../ingest/ingest-writer";
import { loadSigmahqPack, type LoadedPack } from "../sigmahq/pack";

/** Stored events → rule matches: rules, IOCs, login baselines and the pipeline that runs them. */
export interface Detection {
  pipeline: DetectionPipeline;
  rules: RuleCatalog;
  iocs: IocCatalog;
  /** Value providers for the Nest controllers. */
  providers: Provider[];
  /** Processes what is queued and flushes held correlations into the sink. */
  stop(): Promise<void>;
}

/**
 * Loads rules, IOCs and baselines, then attaches the pipeline to ingest: each stored chunk's
 * matches go to `sink` (triage's alert service), marked signal-only when their rule raises no
 * alert. Plain classes; Nest only sees the providers.
 */
export async function createDetection(deps: {
  ds: DataSource;
  writer: IngestWriter;
  registry: AgentRegistry;
  sink: AlertSink;
  /** Shared with triage; default a batch of its own. */
  batch?: SqlBatch;
  options?: Partial<DetectionOptions>;
  onError?: (err: unknown) => void;
  now?: () => number;
  /** Where `rules update` keeps a newer SigmaHQ pack than the bundled one. */
  dataDir?: string;
  /** The SigmaHQ pack; default per VIGIL_SIGMAHQ_PACK (on): the data dir's, else the bundled one. null: none. */
  pack?: LoadedPack | null;
  /** Where correlation inputs go; default in-process (this process owns every correlation group). */
  router?: CorrelationRouter;
  /**
   * Where events come from: `writer` (default, single-process mode) takes what the ingest writer
   * stores and holds its acks while detection is full; `stream` (distributed mode) leaves the
   * pipeline to a DetectionConsumer that reads the events stream apart from storage.
   */
  feed?: "writer" | "stream";
}): Promise<Detection> {
  const { ds } = deps;
  const now = deps.now ?? Date.now;
  const batch = deps.batch ?? new SqlBatch(ds);
  const pack = deps.pack === undefined ? loadSigmahqPack({ dataDir: deps.dataDir }) : (deps.pack ?? undefined);
  const rules = new RuleCatalog(RuleRepository.of(ds), now, pack);
  const iocs = new IocCatalog(IocRepository.of(ds, batch), now);
  const baselines = new LoginBaselines(new LoginBaselineRepository(batch), now);
  await Promise.all([rules.load(), iocs.load(), baselines.load()]);

  const pipeline = new DetectionPipeline({
    rules,
    iocs,
    baselines,
    sink: deps.sink,
    agents: new AgentDirectory(deps.registry, undefined, now),
    options: detectionOptions(process.env, deps.options),
    now,
    onError: deps.onError,
    router: deps.router,
  });
  await pipeline.startCorrelation();
  if (deps.feed === "stream") pipeline.startClock();
  else pipeline.attach(deps.writer);
  return {
    pipeline,
    rules,
    iocs,
    providers: [
      { provide: DetectionPipeline, useValue: pipeline },
      { provide: RuleCatalog, useValue: rules },
      { provide: IocCatalog, useValue: iocs },
    ],
    stop: async () => {
      await pipeline.stop();
      await rules.close();
    },
  };
}
