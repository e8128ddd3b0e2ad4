import pino, { type Logger } from "pino";
import type { LoggerService } from "@nestjs/common";
import { currentRequestFields } from "./request-id";

/** Keys whose values are secrets wherever they appear in a log record. */
const REDACT = [
  "token",
  "apiKey",
  "api_key",
  "key",
  "password",
  "secret",
  "privateKey",
  "authorization",
  "*.token",
  "*.apiKey",
  "*.password",
  "*.secret",
  "*.privateKey",
  "*.authorization",
  "req.headers.authorization",
  'req.headers["x-api-key"]',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { service: "vigil-controller" }, redact: { paths: REDACT, censor: "[redacted]" }, timestamp: pino.stdTimeFunctions.isoTime, mixin: currentRequestFields },
    destination as pino.DestinationStream | undefined,
  );
}

/**
 * Nest's start-up narration: a line per module, controller and route (about a hundred). At info it
 * buries what an admin needs at start (the ready line, `npm start`'s banner); --log-level debug
 * still shows it.
 */
const STARTUP_CONTEXTS = new Set(["InstanceLoader", "RoutesResolver", "RouterExplorer", "NestFactory", "NestApplication"]);

/** Routes Nest's own log lines into the same structured logger. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) {
    if (context && STARTUP_CONTEXTS.has(context)) this.logger.debug({ context }, String(message));
    else this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
