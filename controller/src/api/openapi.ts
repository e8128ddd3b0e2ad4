import type { OpenAPIObject } from "@nestjs/swagger";
import { API_SCHEMAS, ROUTES, type RouteSchemas } from "./schemas";
import type { Schema } from "./schemas/schema";
import { STREAM_TOPICS } from "../integrations/notices";

/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument -- the document is walked as open-ended JSON (Json) */
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- OpenAPI documents are open-ended JSON

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;
const ERROR_REF = { $ref: "#/components/schemas/Error" };
const ERRORS: Record<string, string> = {
  "400": "Bad input; the message names the parameter or field",
  "401": "No API key, or not a valid one",
  "403": "The key's role may not do this",
  "404": "Not found",
  "409": "Conflicts with the resource's state (see the message)",
  "413": "Request body larger than the route's limit",
  "429": "Rate limit exceeded (see Retry-After)",
};
/** Routes that answer 409 when the resource's state does not allow the request. */
const CONFLICTS = new Set([
  "post /api/v1/agents/{id}/inventory/refresh",
  "post /api/v1/commands/{id}/undo",
  "post /api/v1/playbooks",
  "put /api/v1/playbooks/{id}",
  "delete /api/v1/playbooks/{id}",
  "post /api/v1/playbook-actions/{id}/approve",
  "post /api/v1/playbook-actions/{id}/reject",
]);
const PATH_ID: Schema = { type: "string", minLength: 1, maxLength: 128 };
/** Routes the API key guard lets through without a key. */
const PUBLIC = new Set(["get /api/v1/healthz"]);

/**
 * Makes the generated document typed enough to generate a client from: every operation gets an
 * operationId, its success body, request body and parameter schemas from api/schemas (ROUTES),
 * the error responses with their one shape ({statusCode, message, error}); the WebSocket stream,
 * which Nest does not route, is described as an operation of its own.
 */
export function completeDocument(doc: OpenAPIObject): OpenAPIObject {
  const d = doc as unknown as Json;
  d.components ??= {};
  d.components.schemas ??= {};
  Object.assign(d.components.schemas, API_SCHEMAS);
  d.components.schemas.Error = {
    type: "object",
    required: ["statusCode", "message"],
    description: "Every error response has this shape",
    properties: {
      statusCode: { type: "integer", example: 400 },
      message: { oneOf: [{ type: "string" }, { type: "array", items: { type: "string" } }], example: 'query parameter "limit" must be an integer, got "abc"' },
      error: { type: "string", example: "Bad Request" },
      errors: { type: "array", description: "Rule uploads and suppressions: one entry per refused rule or field", items: { type: "object", additionalProperties: true } },
    },
  };
  d.components.schemas.StreamMessage = {
    type: "object",
    required: ["id", "topic", "type", "time", "data"],
    description: "A message on /api/v1/stream",
    properties: {
      id: { type: "integer", description: "Increases across all topics and controller restarts; send the last one you saw as lastId to resume" },
      topic: { type: "string", enum: [...STREAM_TOPICS] },
      type: { type: "string", example: "alert.created" },
      time: { type: "string", format: "date-time" },
      data: { type: "object", additionalProperties: true },
    },
  };
  d.paths ??= {};
  for (const [path, item] of Object.entries(d.paths as Json)) {
    for (const method of METHODS) {
      const op = (item as Json)[method] as Json | undefined;
      if (op) completeOperation(path, method, op);
    }
  }
  d.paths["/api/v1/stream"] = { get: streamOperation() };
  // Clients resolve paths against the origin they downloaded the document from.
  d.servers = [{ url: "/", description: "this controller" }];
  d.info.license = { name: "Apache-2.0", url: "https://www.apache.org/licenses/LICENSE-2.0" };
  d.info.description =
    `${d.info.description ?? ""}\n\nAuthentication: an API key (\`vigil-controller apikey create\`) as \`Authorization: Bearer <key>\` or \`X-Api-Key\`. Errors: \`{statusCode, message, error}\`, where message names the offending parameter or field.`.trim();
  return doc;
}

function completeOperation(path: string, method: string, op: Json): void {
  const key = `${method} ${path}`;
  const route: RouteSchemas | undefined = ROUTES[key];
  op.operationId ??= `${method}${path
    .replace(/[{}]/g, "")
    .split("/")
    .filter(Boolean)
    .map((s) => s[0]!.toUpperCase() + s.slice(1))
    .join("")}`;
  op.responses ??= {};
  const success = Object.keys(op.responses).find((s) => /^2\d\d$/.test(s));
  if (!success) op.responses[method === "post" ? "201" : "200"] = { description: "OK" };
  for (const [status, resp] of Object.entries(op.responses as Json)) {
    if (!/^2\d\d$/.test(status) || status === "204") continue;
    resp.description ||= "OK";
    if (route?.ok) resp.content = content(route.ok);
  }
  if (route?.body) {
    const required = "media" in route.body ? (route.body.required ?? true) : true;
    op.requestBody = { required, content: content(route.body) };
  }
  const params: Json[] = (op.parameters ??= []);
  for (const name of Object.keys(route?.query ?? {})) {
    if (!params.some((p) => p.in === "query" && p.name === name)) params.push({ name, in: "query", required: false });
  }
  for (const p of params) {
    const typed = p.in === "query" ? route?.query?.[p.name] : p.in === "path" ? (route?.path?.[p.name] ?? PATH_ID) : undefined;
    if (typed) p.schema = typed;
  }
  const hasInput = params.length > 0 || op.requestBody;
  for (const [status, description] of Object.entries(ERRORS)) {
    if (status === "400" && !hasInput) continue;
    if (status === "404" && !path.includes("{")) continue;
    if (status === "413" && !op.requestBody) continue;
    if (status === "409" && !CONFLICTS.has(key)) continue;
    if ((status === "401" || status === "403") && PUBLIC.has(key)) continue;
    op.responses[status] ??= { description, content: { "application/json": { schema: ERROR_REF } } };
  }
  if (key === "get /api/v1/healthz")
    op.responses["503"] ??= {
      description: "The database is unreachable, or (distributed mode) what this replica's role needs is not (NATS)",
      content: {
        "application/json": {
          schema: {
            type: "object",
            properties: { status: { type: "string", enum: ["degraded"] }, role: { type: "string" }, database: { type: "string" }, distributed: { type: "object", additionalProperties: true } },
          },
        },
      },
    };
  if (PUBLIC.has(key)) op.security = [];
}

/** A route's JSON schema as `application/json` content, or its content by media type. */
function content(s: Schema | { media: Record<string, Schema> }): Json {
  const media: Record<string, Schema> = "media" in s ? (s as { media: Record<string, Schema> }).media : { "application/json": s as Schema };
  return Object.fromEntries(Object.entries(media).map(([type, schema]) => [type, { schema }]));
}

function streamOperation(): Json {
  return {
    operationId: "streamConnect",
    tags: ["stream"],
    summary: "Live stream (WebSocket upgrade): alerts, cases, commands, agents, events",
    description: [
      "Upgrade to a WebSocket (subprotocol `vigil.v1`). Authenticate with an API key of any role: `Authorization: Bearer`, `X-Api-Key`,",
      "a second subprotocol `vigil.key.<key>` (browsers), or `?key=` (last resort; query strings reach proxy logs).",
      'The server sends `{type:"hello", lastId, topics, heartbeatMs}`. Send `{op:"subscribe", topic, filter?, lastId?}`',
      "(filters: events {agent, type}, alerts {agent, minScore, tags}, cases {minScore}, commands {agent}, agents {agent});",
      'the reply `{type:"subscribed", replayed, gap?}` is followed by the missed messages after lastId, then live StreamMessages.',
      "`gap` means the messages after lastId are no longer buffered (too far behind): re-read the REST API, then continue.",
      '`{op:"unsubscribe", topic}`, `{op:"ping"}`. Bad input gets `{type:"error", message}`. The server pings every heartbeatMs and',
      "drops a client that does not answer; a client that reads too slowly is closed with code 4008 (slow consumer); a revoked key with 4003.",
    ].join(" "),
    parameters: [{ name: "key", in: "query", required: false, schema: { type: "string" }, description: "API key, when headers and subprotocols are not available" }],
    responses: {
      "101": { description: "Switching protocols; then StreamMessage frames", content: { "application/json": { schema: { $ref: "#/components/schemas/StreamMessage" } } } },
      "401": { description: ERRORS["401"], content: { "application/json": { schema: ERROR_REF } } },
      "429": { description: "Too many failed key attempts from this address", content: { "application/json": { schema: ERROR_REF } } },
      "503": { description: "The stream has its maximum number of clients", content: { "application/json": { schema: ERROR_REF } } },
    },
  };
}
