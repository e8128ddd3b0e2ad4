import { ADMIN_SCHEMAS } from "./admin.schemas";
import { DETECTION_SCHEMAS } from "./detection.schemas";
import { RESPONSE_SCHEMAS } from "./response.schemas";
import type { Schema } from "./schema";
import { TRIAGE_SCHEMAS } from "./triage.schemas";

export { ROUTES, type RouteSchemas } from "./routes";

/** Every named schema of the API document (components.schemas). */
export const API_SCHEMAS: Record<string, Schema> = { ...TRIAGE_SCHEMAS, ...DETECTION_SCHEMAS, ...RESPONSE_SCHEMAS, ...ADMIN_SCHEMAS };
