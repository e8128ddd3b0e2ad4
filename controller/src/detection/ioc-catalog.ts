import { IocIndex, buildIocIndex, parseIocCsvSteps, parseStixBundleSteps, runStepsSliced, yieldToLoop, type Ioc, type IocParseError, type IocTextFormat, type StixSkipped } from "@vigil/detection";
import type { IocEntity } from "../database/entities/detection.entities";
import type { IocRepository, IocRow } from "../database/repositories/ioc-repository";
import { jsonItemSteps } from "./ioc-json-items";

export interface ImportResult {
  imported: number;
  errors: IocParseError[];
  /** Refused lines of kinds Vigil cannot match (url, md5, sha1, email, ...), counted by kind. */
  unsupported?: Record<string, number>;
  /** For text imports: how the text was read ("csv" or "list"). */
  format?: string;
  /** STIX: indicators read, left out on purpose (revoked, expired, superseded), loaded in part, observables counted. */
  indicators?: number;
  skipped?: StixSkipped;
  partial?: IocParseError[];
  observables?: number;
  /** How many errors were left out of `errors` (a 40 MB feed can refuse tens of thousands of URLs). */
  errorsOmitted?: number;
}

/** An import that had to be a STIX bundle and was not. */
export class NotABundle extends Error {}

/** A response names at most this many refusals; the rest are counted (the counts by kind stay whole). */
export const MAX_REPORTED_ERRORS = 1000;

function bounded(errors: IocParseError[]): { errors: IocParseError[]; errorsOmitted?: number } {
  return errors.length <= MAX_REPORTED_ERRORS ? { errors } : { errors: errors.slice(0, MAX_REPORTED_ERRORS), errorsOmitted: errors.length - MAX_REPORTED_ERRORS };
}

export interface IocView extends Ioc {
  id: string;
  createdAt: string;
  updatedAt: string;
}

/** A raw row as toIoc reads an entity (bigints may come back as strings on PostgreSQL). */
function rowToIoc(r: IocRow): Ioc {
  const tags = r.tags ? (JSON.parse(r.tags) as string[]) : [];
  return {
    kind: r.kind as Ioc["kind"],
    value: r.value,
    confidence: Number(r.confidence),
    source: r.source,
    ...(r.description ? { description: r.description } : {}),
    ...(r.expires_at !== null ? { expiresAtMs: Number(r.expires_at) } : {}),
    ...(tags.length ? { tags } : {}),
    ...(r.source_id ? { sourceId: r.source_id } : {}),
  };
}

const toIoc = (r: IocEntity): Ioc => ({
  kind: r.kind as Ioc["kind"],
  value: r.value,
  confidence: r.confidence,
  source: r.source,
  ...(r.description ? { description: r.description } : {}),
  ...(r.expiresAt !== null ? { expiresAtMs: r.expiresAt } : {}),
  ...(r.tags.length ? { tags: r.tags } : {}),
  ...(r.sourceId ? { sourceId: r.sourceId } : {}),
});

/** Upserts per transaction: a batch is a few milliseconds of SQLite, then the thread is handed back. */
export const IOC_WRITE_BATCH = 250;
/** Rows per page when the index is rebuilt from the database. */
const LOAD_PAGE = 500;
/** Work between two hand-backs of the thread when pages are cheap enough to run several. */
const SLICE_MS = 8;
/** Ids per COUNT when the live catalog is counted. */
const COUNT_SPAN = 20_000;

/**
 * IOCs in the database plus the lookup index the pipeline matches against. At start and after a
 * deletion the index is rebuilt from the whole set and swapped in whole; an import updates it in
 * place, each batch once its transaction has committed (so the index never holds what the
 * database does not).
 *
 * Nothing here holds the event loop for long, whatever the size of a feed: parsing runs in time
 * slices (runStepsSliced), writes go in transactions of IOC_WRITE_BATCH and into the live index as
 * they commit, a full rebuild (start, deletions) reads a page at a time, with the thread handed
 * back in between. Imports, deletions and reloads run one at a time.
 */
export class IocCatalog {
  private idx: IocIndex = buildIocIndex([]);
  private readonly listeners: Array<() => void> = [];
  /** Imports, deletions and reloads, one after another (a reload never races an import's writes). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: IocRepository,
    private readonly now: () => number = Date.now,
  ) {}

  get index(): IocIndex {
    return this.idx;
  }

  onChange(l: () => void): void {
    this.listeners.push(l);
  }

  /** Rebuilds the index from the database a page at a time, then swaps it in. */
  load(): Promise<void> {
    return this.serial(() => this.reload());
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reload(): Promise<void> {
    const next = new IocIndex([]);
    let slice = performance.now();
    for (let after = 0; ;) {
      const rows = await this.repo.pageAfter(after, LOAD_PAGE);
      for (const r of rows) next.add(rowToIoc(r));
      if (rows.length < LOAD_PAGE) break;
      after = Number(rows[rows.length - 1]!.id);
      if (performance.now() - slice >= SLICE_MS) {
        await yieldToLoop();
        slice = performance.now();
      }
    }
    this.idx = next.seal();
    for (const l of this.listeners) l();
  }

  async list(f: { kind?: string; source?: string; limit: number; afterId?: number }): Promise<IocView[]> {
    const rows = await this.repo.list(f);
    return rows.map((r) => ({ id: String(r.id), ...toIoc(r), createdAt: new Date(r.createdAt).toISOString(), updatedAt: new Date(r.updatedAt).toISOString() }));
  }

  /**
   * A CSV (our columns or a feed's: abuse.ch exports load unchanged) or a plain list, one indicator
   * per line; "auto" tells them apart (see parseIocCsv).
   */
  importCsv(text: string, source?: string, format: IocTextFormat = "auto"): Promise<ImportResult> {
    return this.serial(async () => {
      const parsed = await runStepsSliced(parseIocCsvSteps(text, { format, ...(source ? { defaultSource: source } : {}) }));
      const res = await this.store(parsed.iocs, parsed.errors);
      return { ...res, format: parsed.format, unsupported: parsed.unsupported };
    });
  }

  /** With requireBundle, input that is not a STIX bundle throws NotABundle and nothing is stored. */
  importStix(input: unknown /* JSON text or a parsed bundle */, source?: string, requireBundle = false): Promise<ImportResult> {
    return this.serial(() => this.importStixNow(input, source, requireBundle));
  }

  private async importStixNow(input: unknown, source: string | undefined, requireBundle: boolean): Promise<ImportResult> {
    const parsed = await runStepsSliced(parseStixBundleSteps(input, { requireBundle, ...(source ? { defaultSource: source } : {}) }));
    if (parsed.notBundle) throw new NotABundle(parsed.errors[0]?.message ?? "not a STIX bundle");
    const res = await this.store(parsed.iocs, parsed.errors);
    return { ...res, indicators: parsed.indicators, unsupported: parsed.unsupported, skipped: parsed.skipped, partial: bounded(parsed.partial).errors, observables: parsed.observables };
  }

  /** JSON list of {type|kind, value, confidence?, source?, description?, expiresAt?, tags?}; bad items named by index. */
  importJson(items: unknown[], defaultSource = "api"): Promise<ImportResult> {
    return this.serial(async () => {
      const { iocs, errors } = await runStepsSliced(jsonItemSteps(items, defaultSource));
      return this.store(iocs, errors);
    });
  }

  /** Indicators that have not expired: what an agent policy could carry. */
  async countLive(nowMs = this.now()): Promise<number> {
    // Counted by id range, so a catalog of millions is a series of short scans, not one long one.
    const hi = await this.repo.maxId();
    let n = 0;
    for (let lo = 0; lo < hi; lo += COUNT_SPAN) {
      n += await this.repo.countLiveInSpan(lo, lo + COUNT_SPAN, nowMs);
      await yieldToLoop();
    }
    return n;
  }

  /**
   * Live indicators best first (highest confidence, then most recently updated), a page at a
   * time along the iocs_policy_order index: the caller stops when it has enough, and the thread
   * is handed back between pages.
   */
  async *bestFirst(pageSize = 2000, nowMs = this.now()): AsyncGenerator<Ioc[]> {
    let after: [number, number, number] | undefined;
    for (;;) {
      const rows = await this.repo.bestFirstPage(after, pageSize);
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!;
      after = [Number(last.confidence), Number(last.updated_at), Number(last.id)];
      yield rows.filter((r) => r.expires_at === null || Number(r.expires_at) > nowMs).map(rowToIoc);
      if (rows.length < pageSize) return;
      await yieldToLoop();
    }
  }

  remove(id: number): Promise<boolean> {
    return this.serial(async () => {
      if (!(await this.repo.remove(id))) return false;
      await this.reload();
      return true;
    });
  }

  /** Deletes a feed in batches (a 600k-row DELETE would hold SQLite, and with it the thread, for seconds). */
  removeSource(source: string): Promise<number> {
    return this.serial(async () => {
      let deleted = 0;
      for (;;) {
        const n = await this.repo.removeSomeOfSource(source, IOC_WRITE_BATCH);
        if (n === 0) break;
        deleted += n;
        await yieldToLoop();
      }
      if (deleted) await this.reload();
      return deleted;
    });
  }

  /**
   * Upserts in transactions of IOC_WRITE_BATCH with the thread handed back between them; each
   * committed batch goes into the live index the same way (an entry of the same kind, value and
   * source replaced), so an import costs its own size, not a rebuild of the whole catalog.
   */
  private async store(iocs: Ioc[], errors: IocParseError[]): Promise<ImportResult> {
    const now = this.now();
    for (let at = 0; at < iocs.length; at += IOC_WRITE_BATCH) {
      const batch = iocs.slice(at, at + IOC_WRITE_BATCH);
      // As stored (the parsers' objects are ours to adjust; no copy per IOC for the collector to chase).
      for (const i of batch) {
        i.confidence = Math.round(i.confidence);
        if (i.source.length > 255) i.source = i.source.slice(0, 255);
      }
      await this.repo.upsert(batch, now);
      for (const i of batch) this.idx.upsert(i);
      await yieldToLoop();
    }
    if (iocs.length) for (const l of this.listeners) l();
    return { imported: iocs.length, ...bounded(errors) };
  }
}
