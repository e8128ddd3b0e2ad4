import { Controller, Get, Header, Inject } from "@nestjs/common";
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from "@nestjs/swagger";
import { Roles } from "../http/roles";
import { ControllerMetrics } from "../metrics/metrics";

/**
 * Prometheus scrapes with an API key like any client: give it a `readonly` key
 * (`authorization: {type: Bearer, credentials_file: ...}` in the scrape config).
 * Not public: metrics reveal fleet size, activity and response state.
 */
@ApiTags("operations")
@Controller()
export class MetricsController {
  constructor(@Inject(ControllerMetrics) private readonly metrics: ControllerMetrics) {}

  @Get("metrics")
  @Roles("analyst", "integration", "readonly")
  @Header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
  @Header("Cache-Control", "no-store")
  @ApiProduces("text/plain")
  @ApiOperation({ summary: "Prometheus metrics (text exposition format); any role, e.g. a readonly key for the scraper" })
  @ApiOkResponse({ description: "Prometheus text format 0.0.4", content: { "text/plain": { schema: { type: "string" } } } })
  scrape() {
    return this.metrics.text();
  }
}
