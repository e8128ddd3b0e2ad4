import type { Agent, Alert, AlertDetail, CaseStory, CaseSummary, Command, HostInventory, Page, PlaybookAction, TelemetryEvent, Verdict } from "./types";

/** An API answer other than 2xx, with the controller's message (Nest: {statusCode, message}). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function messageOf(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { message?: unknown };
    if (Array.isArray(body.message)) return body.message.join("; ");
    if (typeof body.message === "string") return body.message;
  } catch {
    // not JSON
  }
  return `${res.status} ${res.statusText}`;
}

type Query = Record<string, string | number | undefined>;

function qs(q: Query): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

/**
 * The controller's REST API with the analyst's key. `onUnauthorized` lets the shell sign out
 * when the key is revoked mid-session instead of showing 401s on every panel.
 */
export class Api {
  constructor(
    readonly key: string,
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) this.onUnauthorized();
    if (!res.ok) throw new ApiError(res.status, await messageOf(res));
    return (await res.json()) as T;
  }

  agents = () => this.call<Page<Agent>>("GET", "/agents");
  inventory = (agentId: string) => this.call<HostInventory>("GET", `/agents/${encodeURIComponent(agentId)}/inventory`);
  alerts = (q: Query) => this.call<Page<Alert>>("GET", `/alerts${qs(q)}`);
  alert = (id: string) => this.call<AlertDetail>("GET", `/alerts/${encodeURIComponent(id)}`);
  events = (q: Query) => this.call<Page<TelemetryEvent>>("GET", `/events${qs(q)}`);
  cases = (q: Query) => this.call<Page<CaseSummary>>("GET", `/cases${qs(q)}`);
  caseStory = (id: string) => this.call<CaseStory>("GET", `/cases/${encodeURIComponent(id)}`);
  commands = (q: Query) => this.call<Page<Command>>("GET", `/commands${qs(q)}`);
  command = (id: string) => this.call<Command>("GET", `/commands/${encodeURIComponent(id)}`);
  playbookActions = (q: Query) => this.call<Page<PlaybookAction>>("GET", `/playbook-actions${qs(q)}`);

  isolate = (agentId: string, reason: string, caseId?: string) => this.call<Command>("POST", `/agents/${encodeURIComponent(agentId)}/isolate`, { reason, ...(caseId ? { caseId } : {}) });
  release = (agentId: string, reason: string, caseId?: string) => this.call<Command>("POST", `/agents/${encodeURIComponent(agentId)}/release`, { reason, ...(caseId ? { caseId } : {}) });
  feedback = (alertId: string, verdict: Verdict) => this.call<unknown>("POST", `/alerts/${encodeURIComponent(alertId)}/feedback`, { verdict });
  setCaseState = (caseId: string, state: "acknowledged" | "resolved", verdict?: Verdict) =>
    this.call<CaseSummary>("POST", `/cases/${encodeURIComponent(caseId)}/state`, { state, ...(verdict ? { verdict } : {}) });
  renameCase = (caseId: string, title: string) => this.call<CaseSummary>("POST", `/cases/${encodeURIComponent(caseId)}/title`, { title });
  undo = (commandId: string) => this.call<Command>("POST", `/commands/${encodeURIComponent(commandId)}/undo`);
  decide = (actionId: string, approve: boolean) => this.call<PlaybookAction>("POST", `/playbook-actions/${encodeURIComponent(actionId)}/${approve ? "approve" : "reject"}`);
}
