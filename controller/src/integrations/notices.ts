/**
 * What the controller tells the outside world: one shape for the live stream and the webhooks, so
 * an integrator sees the same `type` and `data` on both.
 */
export const STREAM_TOPICS = ["alerts", "cases", "commands", "agents", "events"] as const;
export type StreamTopic = (typeof STREAM_TOPICS)[number];

/** Webhooks also carry playbook `notify` actions; raw events are for the stream only (volume). */
export const WEBHOOK_TOPICS = ["alerts", "cases", "commands", "agents", "notify"] as const;
export type WebhookTopic = (typeof WEBHOOK_TOPICS)[number];

export interface Notice {
  topic: StreamTopic | "notify";
  /** "alert.created", "case.resolved", "command.succeeded", "agent.online", "event.process", "notify". */
  type: string;
  /** Milliseconds since the epoch when the controller learned of it. */
  time: number;
  data: Record<string, unknown>;
  /** Filter facets, so filters never dig into `data`. */
  agentId?: string;
  score?: number;
  tags?: string[];
  eventType?: string;
}
