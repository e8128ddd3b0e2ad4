import { loginDeviation, observeLogin, parseLoginBaseline, type DeviationReason, type Login, type LoginBaseline } from "@vigil/detection";
import type { LoginBaselineRepository } from "../database/repositories/login-baseline-repository";
import type { Stmt } from "../database/sql-batch";

/**
 * Per-user login baselines. Each successful login is judged against the user's baseline and then
 * added to it. Held in memory (one small object per user) and written back for the users that
 * changed, once per pipeline chunk.
 */
export class LoginBaselines {
  private readonly cache = new Map<string, LoginBaseline>();
  private readonly dirty = new Set<string>();

  constructor(
    private readonly repo: LoginBaselineRepository,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<void> {
    const rows = await this.repo.all();
    for (const r of rows) {
      try {
        const parsed = parseLoginBaseline(JSON.parse(r.baseline));
        if (parsed.ok) this.cache.set(r.user_name, parsed.baseline);
      } catch {
        // A corrupt row starts that user's baseline afresh rather than stopping detection.
      }
    }
  }

  /** Deviations of `login` from the baseline as it was, then records the login. */
  observe(login: Login): DeviationReason[] {
    const before = this.cache.get(login.user);
    const deviations = loginDeviation(before, login);
    this.cache.set(login.user, observeLogin(before, login));
    this.dirty.add(login.user);
    return deviations;
  }

  get(user: string): LoginBaseline | undefined {
    return this.cache.get(user);
  }

  /** Upserts for the users changed since the last call. */
  takeWrites(): Stmt[] {
    const at = this.now();
    const out = [...this.dirty].map((user) => this.repo.upsertWrite(user, this.cache.get(user), at));
    this.dirty.clear();
    return out;
  }
}
