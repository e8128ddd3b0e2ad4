import { loginDeviation, observeLogin, parseLoginBaseline, type DeviationReason, type Login, type LoginBaseline } from "@vigil/detection";
import type { LoginBaselineRepository } from "../database/repositories/login-baseline-repository";
import type { Stmt } from "../database/sql-batch";

/**
 * Per-user login baselines. Each successful login is judged against the user's baseline and then
 * added to it. Held in memory (one small object per user) and written back for the users that
 * changed, with a chunk's alerts, at most once per `writeEveryMs`.
 *
 * Why not every chunk: a user's row is one row for the whole fleet, and in distributed mode every
 * replica's chunks touch the same few users (root, the deploy account); writing them with every
 * chunk made each replica's alert transaction wait on the others' row locks (measured under
 * bench:scale: detection spent most of its time there). What a crash can lose is the last
 * interval's additions: a login from such a source is judged new once more, never missed.
 */
export class LoginBaselines {
  private readonly cache = new Map<string, LoginBaseline>();
  private readonly dirty = new Set<string>();
  private writtenAt = -Infinity;

  constructor(
    private readonly repo: LoginBaselineRepository,
    private readonly now: () => number = Date.now,
    private readonly writeEveryMs = 2_000,
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

  /**
   * Upserts for the users changed since the last writes, once `writeEveryMs` has passed since then
   * (or now, with `all`: shutdown). In user order, so two replicas' transactions lock the shared
   * rows in the same order and cannot deadlock on them.
   */
  takeWrites(all = false): Stmt[] {
    const at = this.now();
    if (this.dirty.size === 0 || (!all && at - this.writtenAt < this.writeEveryMs)) return [];
    this.writtenAt = at;
    const out = [...this.dirty].sort().map((user) => this.repo.upsertWrite(user, this.cache.get(user), at));
    this.dirty.clear();
    return out;
  }
}
