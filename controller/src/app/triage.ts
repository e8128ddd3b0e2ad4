import type { Provider } from "@nestjs/common";
import type { DataSource } from "typeorm";
import { HostNames } from "../agents/host-names";
import { AlertActions } from "../alerts/alert-actions";
import { AlertQuery } from "../alerts/alert-query";
import { AlertService } from "../alerts/alert-service";
import { ChainIndex } from "../alerts/chain-index";
import { FeedbackWeightStore } from "../alerts/feedback-weights";
import { SuppressionService } from "../alerts/suppression-service";
import { CaseQuery, type CaseActionsProvider } from "../cases/case-query";
import { CaseService } from "../cases/case-service";
import { AlertTimelineSource, CaseTimeline, EventTimelineSource, type TimelineSource } from "../cases/case-timeline";
import { CaseEntity } from "../database/entities/case.entity";
import { SqlAgentRepository } from "../database/repositories/agent-repository";
import { SqlAlertRepository } from "../database/repositories/alert-repository";
import { CorrelationFiringRepository } from "../database/repositories/correlation-firing-repository";
import type { EventStore } from "../database/repositories/event-store";
import { SqlCaseRepository } from "../database/repositories/case-repository";
import { SuppressionRepository } from "../database/repositories/suppression-repository";
import { EntityRiskRepository } from "../database/repositories/entity-risk-repository";
import { FeedbackWeightRepository } from "../database/repositories/feedback-weight-repository";
import type { SqlBatch } from "../database/sql-batch";
import { EntityRiskService } from "../risk/entity-risk-service";

/** Matches → alerts → cases, with entity risk and analyst feedback. */
export interface Triage {
  /** The detection pipeline's sink. */
  alerts: AlertService;
  alertQuery: AlertQuery;
  alertActions: AlertActions;
  suppressions: SuppressionService;
  cases: CaseService;
  caseQuery: CaseQuery;
  timeline: CaseTimeline;
  risk: EntityRiskService;
  /** Value providers for the Nest controllers. */
  providers: Provider[];
}

/**
 * Builds triage and loads its state (suppressions, feedback weights, risks, open cases). Response is
 * built first: its view of a case (commands, playbook decisions, evidence) is handed in here.
 */
export async function createTriage(deps: {
  ds: DataSource;
  /** The detection write path's transaction primitive, shared with detection. */
  batch: SqlBatch;
  /** The stored telemetry a case timeline shows. */
  events: EventStore;
  /** Response's part of a case story and timeline. */
  caseActions?: CaseActionsProvider & TimelineSource;
  now?: () => number;
}): Promise<Triage> {
  const { ds, batch } = deps;
  const now = deps.now ?? Date.now;
  const suppressions = new SuppressionService(SuppressionRepository.of(ds), now);
  const feedback = new FeedbackWeightStore(new FeedbackWeightRepository(batch));
  const risk = new EntityRiskService(new EntityRiskRepository(batch), now);
  const alertRepo = SqlAlertRepository.of(ds, batch);
  const caseRepo = new SqlCaseRepository(ds.getRepository(CaseEntity), batch);
  const cases = new CaseService(caseRepo, now);
  await Promise.all([suppressions.load(), feedback.load(), risk.load(), cases.load()]);

  const alerts = new AlertService({ repo: alertRepo, suppressions, feedback, chain: new ChainIndex(undefined, undefined, now), risk, cases, firings: new CorrelationFiringRepository(batch), now });
  const alertQuery = new AlertQuery(alertRepo);
  const alertActions = new AlertActions(alertRepo, alerts, feedback, suppressions, now);
  const timeline = new CaseTimeline();
  timeline.addSource(new EventTimelineSource(deps.events));
  timeline.addSource(new AlertTimelineSource());
  const hostNames = new HostNames(SqlAgentRepository.of(ds), undefined, now);
  const caseQuery = new CaseQuery(caseRepo, alertQuery, timeline, hostNames);
  if (deps.caseActions) {
    caseQuery.setActionsProvider(deps.caseActions);
    timeline.addSource(deps.caseActions);
  }

  return {
    alerts,
    alertQuery,
    alertActions,
    suppressions,
    cases,
    caseQuery,
    timeline,
    risk,
    providers: [
      { provide: AlertQuery, useValue: alertQuery },
      { provide: AlertActions, useValue: alertActions },
      { provide: SuppressionService, useValue: suppressions },
      { provide: CaseService, useValue: cases },
      { provide: CaseQuery, useValue: caseQuery },
      { provide: EntityRiskService, useValue: risk },
      { provide: AlertService, useValue: alerts },
      { provide: HostNames, useValue: hostNames },
    ],
  };
}
