import { Module, type DynamicModule, type Provider } from "@nestjs/common";
import { AuditController } from "../api/audit.controller";
import { ApiKeysController } from "../api/api-keys.controller";
import { TrustController } from "../api/trust.controller";
import { AgentsController } from "../api/agents.controller";
import { CommandsController } from "../api/commands.controller";
import { PlaybooksController } from "../api/playbooks.controller";
import { PolicyController } from "../api/policy.controller";
import { EventsController } from "../api/events.controller";
import { HealthController } from "../api/health.controller";
import { AlertsController } from "../api/alerts.controller";
import { CasesController } from "../api/cases.controller";
import { EntitiesController } from "../api/entities.controller";
import { IocsController } from "../api/iocs.controller";
import { RulesController } from "../api/rules.controller";
import { SuppressionsController } from "../api/suppressions.controller";
import { WebhooksController } from "../api/webhooks.controller";
import { MetricsController } from "../api/metrics.controller";
import { ConsoleController } from "../api/console.controller";
import { InstallController } from "../api/install.controller";

/** Every HTTP controller; the route table (route-table.ts) is read from these. */
export const CONTROLLERS = [
  HealthController,
  AgentsController,
  EventsController,
  CommandsController,
  PlaybooksController,
  PolicyController,
  ApiKeysController,
  TrustController,
  AuditController,
  RulesController,
  AlertsController,
  CasesController,
  IocsController,
  SuppressionsController,
  EntitiesController,
  InstallController,
  ConsoleController,
  WebhooksController,
  MetricsController,
];

/**
 * Nest is the HTTP shell only: the core objects are built in bootstrap (plain
 * classes, testable without Nest) and handed in as value providers.
 */
@Module({})
export class AppModule {
  static with(providers: Provider[]): DynamicModule {
    return {
      module: AppModule,
      controllers: CONTROLLERS,
      providers,
      exports: providers,
    };
  }
}
