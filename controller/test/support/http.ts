import type { TestController } from "./controller";

/** JSON request against a test controller, with its admin key when API keys are enforced. */
export async function request(ctl: TestController, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const key = (ctl as unknown as { adminKey?: string }).adminKey;
  const res = await fetch(ctl.httpUrl + path, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}
