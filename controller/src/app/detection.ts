import type { Provider } from "@nestjs/common";
import type { DataSource } from "typeorm";
import type { AgentRegistry } from "../agents/agent-registry";
import { AlertActions } from "../alerts/alert-actions";
import { AlertQuery } from "../alerts/alert-query";
import { AlertService } from "../alerts/alert-service";
import { AlertEntity, SuppressionEntity } from "../database/entities/alert.entity";
import { ChainIndex } from "../alerts/chain-index";
import { FeedbackWeightStore } from "../alerts/feedback-weights";
import { SuppressionService } from "../alerts/suppression-service";
import { CaseQuery } from "../cases/case-query";
import { CaseService } from "../cases/case-service";
import { SqlAlertRepository } from "../database/repositories/alert-repository";
import { SqlCaseRepository } from "../database/repositories/case-repository";
import { AlertTimelineSource, CaseTimeline, EventTimelineSource } from "../cases/case-timeline";
import { CaseEntity } from "../database/entities/case.entity";
import { EntityRiskService } from "../risk/entity-risk-service";
import type { IngestWriter } from "../ingest/ingest-writer";
import { AgentDirectory } from "../detection/agent-directory";
import { IocEntity, RuleSettingEntity, RuleSourceEntity } from "../database/entities/detection.entities";
import { IocCatalog } from "../detection/ioc-catalog";
import { LoginBaselines } from "../detection/login-baselines";
import { detectionOptions, type DetectionOptions } from "../detection/options";
import { DetectionPipeline } from "../detection/pipeline";
import { loadSigmahqPack, type LoadedPack } from "../sigmahq/pack";
import { RuleCatalog } from "../detection/rule-catalog";
import { SqlBatch } from "../database/sql-batch";

export interface Detection {
  pipeline: DetectionPipeline;
  rules: RuleCatalog;
  iocs: IocCatalog;
  alerts: AlertService;
  alertQuery: AlertQuery;
  alertActions: AlertActions;
  suppressions: SuppressionService;
  cases: CaseService;
  caseQuery: CaseQuery;
  /** Others add timeline sources (response actions, evidence) here. */
  timeline: CaseTimeline;
  risk: EntityRiskService;
  /** Value providers for the Nest controllers. */
  providers: Provider[];
  /** Processes what is queued and flushes held correlations into alerts. */
  stop(): Promise<void>;
}

/**
 * Composition of issue 3's controller half: loads rules, IOCs, suppressions, weights, baselines,
 * risks and open cases, then attaches the pipeline to ingest. Plain classes; Nest only sees the
 * providers.
 */
export async function createDetection(deps: {
  ds: DataSource;
  writer: IngestWriter;
  registry: AgentRegistry;
  options?: Partial<DetectionOptions>;
  onError?: (err: unknown) => void;
  now?: () => number;
  /** Where `rules update` keeps a newer SigmaHQ pack than the bundled one. */
  dataDir?: string;
  /** The SigmaHQ pack; default per VIGIL_SIGMAHQ_PACK (on): the data dir's, else the bundled one. null: none. */
  pack?: LoadedPack | null;
}): Promise<Detection> {
  const { ds } = deps;
  const now = deps.now ?? Date.now;
  const sql = new SqlBatch(ds);
  const pack = deps.pack === undefined ? loadSigmahqPack({ dataDir: deps.dataDir }) : (deps.pack ?? undefined);
  const rules = new RuleCatalog(ds.getRepository(RuleSourceEntity), ds.getRepository(RuleSettingEntity), now, pack);
  const iocs = new IocCatalog(ds.getRepository(IocEntity), sql, now);
  const suppressions = new SuppressionService(ds.getRepository(SuppressionEntity), now);
  const feedback = new FeedbackWeightStore(sql);
  const baselines = new LoginBaselines(sql, now);
  const risk = new EntityRiskService(sql, now);
  const alertRepo = SqlAlertRepository.of(ds, sql);
  const cases = new CaseService(new SqlCaseRepository(ds.getRepository(CaseEntity), sql), now);
  await Promise.all([rules.load(), iocs.load(), suppressions.load(), feedback.load(), baselines.load(), risk.load(), cases.load()]);

  const alerts = new AlertService({ repo: alertRepo, suppressions, feedback, chain: new ChainIndex(undefined, undefined, now), risk, cases, now, alerts: (id) => rules.alerts(id) });
  const pipeline = new DetectionPipeline({
    rules, iocs, baselines, sink: alerts, agents: new AgentDirectory(deps.registry, undefined, now), options: detectionOptions(process.env, deps.options), now, onError: deps.onError,
  });
  pipeline.attach(deps.writer);

  const alertQuery = new AlertQuery(ds.getRepository(AlertEntity));
  const alertActions = new AlertActions(alertRepo, alerts, feedback, suppressions, now);
  const timeline = new CaseTimeline();
  timeline.addSource(new EventTimelineSource(sql));
  timeline.addSource(new AlertTimelineSource());
  const caseQuery = new CaseQuery(ds.getRepository(CaseEntity), alertQuery, timeline);

  const d: Omit<Detection, "providers" | "stop"> = { pipeline, rules, iocs, alerts, alertQuery, alertActions, suppressions, cases, caseQuery, timeline, risk };
  return {
    ...d,
    providers: [
      { provide: DetectionPipeline, useValue: pipeline },
      { provide: RuleCatalog, useValue: rules },
      { provide: IocCatalog, useValue: iocs },
      { provide: AlertQuery, useValue: alertQuery },
      { provide: AlertActions, useValue: alertActions },
      { provide: SuppressionService, useValue: suppressions },
      { provide: CaseService, useValue: cases },
      { provide: CaseQuery, useValue: caseQuery },
      { provide: EntityRiskService, useValue: risk },
      { provide: AlertService, useValue: alerts },
    ],
    stop: async () => {
      await pipeline.stop();
      await rules.close();
    },
  };
}
