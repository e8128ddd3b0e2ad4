import { MAX_AUDIT_RECORDS, type AuditEvent, type AuditRecord } from "@vigil/proto";
import type { ParsedAudit } from "./parse-audit-line";

export interface AuditAssemblerOptions {
  /** An event whose EOE never comes (user-space records have none) is emitted after this. Default 300 ms. */
  flushAfterMs?: number;
  /** Record types kept (e.g. SYSCALL, EXECVE, PATH); empty or absent keeps every type. */
  keepTypes?: readonly string[];
  /** Events emitted per second at most (token bucket, burst of one second); 0 = no cap. */
  maxEventsPerSec?: number;
  /** Events being assembled at once; beyond it the oldest is emitted early. Default 1024. */
  maxOpen?: number;
  now?: () => number;
}

/** Raw text kept per event over all its records: a PATH-heavy event must not carry 16 × 8 KiB. */
const MAX_EVENT_RAW = 16 * 1024;

interface Open {
  key: string;
  timeMs: number;
  serial: number;
  records: AuditRecord[];
  firstSeenAt: number;
  /** Records beyond MAX_AUDIT_RECORDS, not kept. */
  overflow: number;
}

export interface AssemblerStats {
  /** Records read (EOE included). */
  records: number;
  /** Events emitted. */
  events: number;
  /** Records left out: their type is not in keepTypes. */
  filteredRecords: number;
  /** Events dropped by the rate cap. */
  rateDropped: number;
  /** Records beyond MAX_AUDIT_RECORDS in one event. */
  overflowRecords: number;
}

/**
 * auditd writes one kernel event as several records (SYSCALL, EXECVE, CWD, PATH…, PROCTITLE, then
 * EOE) sharing `msg=audit(TIME:SERIAL)`. This joins them into one AuditEvent: the SYSCALL record
 * (or the first) as the event, the rest in `records`. An event is emitted when its EOE arrives,
 * when it has waited `flushAfterMs` (records without EOE, e.g. USER_CMD), or when too many are open.
 */
export class AuditAssembler {
  private readonly open = new Map<string, Open>();
  private readonly keep: Set<string> | null;
  private readonly now: () => number;
  private tokens: number;
  private refilledAt: number;
  readonly stats: AssemblerStats = { records: 0, events: 0, filteredRecords: 0, rateDropped: 0, overflowRecords: 0 };

  constructor(
    private readonly opts: AuditAssemblerOptions,
    private readonly emit: (audit: AuditEvent, timeMs: number) => void,
  ) {
    this.keep = opts.keepTypes?.length ? new Set(opts.keepTypes.map((t) => t.toUpperCase())) : null;
    this.now = opts.now ?? Date.now;
    this.tokens = opts.maxEventsPerSec ?? 0;
    this.refilledAt = this.now();
  }

  get openEvents(): number {
    return this.open.size;
  }

  push(p: ParsedAudit): void {
    this.stats.records++;
    const node = p.audit.fields.node ?? "";
    const key = `${node}|${p.timeMs}|${p.audit.serial}`;
    if (p.audit.recordType === "EOE") {
      const o = this.open.get(key);
      if (o) this.finish(o);
      return;
    }
    let o = this.open.get(key);
    if (!o) {
      if (this.open.size >= (this.opts.maxOpen ?? 1024)) this.finish(this.open.values().next().value!);
      o = { key, timeMs: p.timeMs, serial: p.audit.serial, records: [], firstSeenAt: this.now(), overflow: 0 };
      this.open.set(key, o);
    }
    if (this.keep && !this.keep.has(p.audit.recordType)) {
      this.stats.filteredRecords++;
      return;
    }
    if (o.records.length >= MAX_AUDIT_RECORDS) {
      o.overflow++;
      this.stats.overflowRecords++;
      return;
    }
    o.records.push({ recordType: p.audit.recordType, fields: p.audit.fields, raw: p.audit.raw });
  }

  /** Emits every event that has waited long enough for an EOE that is not coming. */
  tick(): void {
    const cutoff = this.now() - (this.opts.flushAfterMs ?? 300);
    // Insertion order is arrival order: the first young one ends the scan.
    for (const o of this.open.values()) {
      if (o.firstSeenAt > cutoff) break;
      this.finish(o);
    }
  }

  /** Emits everything still open (stop, or the end of a file). */
  flushAll(): void {
    for (const o of [...this.open.values()]) this.finish(o);
  }

  private finish(o: Open): void {
    this.open.delete(o.key);
    if (!o.records.length) return; // every record filtered out by type
    if (!this.admit()) {
      this.stats.rateDropped++;
      return;
    }
    const primaryAt = Math.max(
      0,
      o.records.findIndex((r) => r.recordType === "SYSCALL"),
    );
    const primary = o.records[primaryAt]!;
    let budget = MAX_EVENT_RAW - primary.raw.length;
    const rest = o.records
      .filter((_, i) => i !== primaryAt)
      .map((r) => {
        const raw = budget > 0 ? r.raw.slice(0, budget) : "";
        budget -= raw.length;
        return { ...r, raw };
      });
    this.stats.events++;
    this.emit({ recordType: primary.recordType, serial: o.serial, fields: primary.fields, raw: primary.raw, records: rest }, o.timeMs);
  }

  private admit(): boolean {
    const rate = this.opts.maxEventsPerSec ?? 0;
    if (rate <= 0) return true;
    const now = this.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}
