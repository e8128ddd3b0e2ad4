/**
 * Where a base rule's match goes when correlations run away from the host that saw the event
 * (cross-host correlation, issue #12). Single-event matching stays with the event; each match of
 * a rule that feeds a correlation is re-keyed by that correlation's group-by values, and whoever
 * owns the key runs the correlation's windows, so one owner sees every input of a group whatever
 * host or replica it came from.
 *
 * Chained correlations (a correlation over another correlation's firings) are owned with the top
 * of their chain: the key is the chain's top correlation id plus the group-by values, so when the
 * steps of a chain group by the same values (a burst from an IP, then a login from that IP) every
 * step of a group has one owner and the chain stays exact. Steps that group by different values
 * are only exact where their keys happen to meet (docs/scale.md).
 */
import { RuleSet } from "./compile";
import type { SigmaEvent } from "./types";

export interface CorrelationRoute {
  /** index (RuleSet.rules) of the correlation the match feeds */
  target: number;
  /** that correlation's id, which names it across processes and rule versions */
  targetId: string;
  /** the correlation whose owner runs this one: itself, or the top of the chain it feeds */
  anchorId: string;
  /** the event fields holding this input's group-by values (aliases applied) */
  groupFields: string[];
}

/** Chains deeper than this are cut (compile refuses cycles; this only bounds the walk). */
const MAX_CHAIN = 32;

/** For each rule (by index), the correlations its matches feed and how each is keyed. */
export function correlationRoutes(ruleset: RuleSet): CorrelationRoute[][] {
  const rules = ruleset.compiled;
  const anchorOf = (ci: number): number => {
    let at = ci;
    for (let depth = 0; depth < MAX_CHAIN; depth++) {
      const up = rules[at].feeds.find((d) => rules[d].correlation);
      if (up === undefined) break;
      at = up;
    }
    return at;
  };
  return rules.map((r, ri) =>
    r.feeds.flatMap((ci) => {
      const c = rules[ci].correlation;
      if (!c) return [];
      const j = c.refIdx.indexOf(ri);
      if (j < 0) return [];
      return [{ target: ci, targetId: rules[ci].info.id, anchorId: rules[anchorOf(ci)].info.id, groupFields: c.groupFields[j] }];
    }),
  );
}

/** The key whose owner runs the route's windows for this event: anchor id and group-by values. */
export function routeKey(route: CorrelationRoute, ev: SigmaEvent): string {
  return `${route.anchorId}|${JSON.stringify(route.groupFields.map((f) => ev.fields[f] ?? null))}`;
}

/**
 * The rules one chain's owner needs: the chain's top correlation, the correlations under it and
 * the rules they reference, re-indexed into a RuleSet of their own, so an engine per correlation
 * group costs the chain's few rules, not the whole rule set.
 */
export function chainRuleSet(ruleset: RuleSet, anchorId: string): RuleSet | undefined {
  const rules = ruleset.compiled;
  const top = rules.findIndex((r) => r.info.id === anchorId && r.correlation);
  if (top < 0) return undefined;
  const keep: number[] = [];
  const seen = new Set<number>();
  const visit = (i: number, depth: number): void => {
    if (seen.has(i) || depth > MAX_CHAIN) return;
    seen.add(i);
    for (const ref of rules[i].correlation?.refIdx ?? []) visit(ref, depth + 1);
    keep.push(i);
  };
  visit(top, 0);
  keep.sort((a, b) => a - b);
  const local = new Map(keep.map((g, l) => [g, l]));
  return new RuleSet(
    keep.map((g) => {
      const r = rules[g];
      const c = r.correlation;
      return {
        ...r,
        feeds: r.feeds.flatMap((f) => (local.has(f) ? [local.get(f)!] : [])),
        correlation: c ? { ...c, refIdx: c.refIdx.map((x) => local.get(x)!) } : undefined,
      };
    }),
  );
}
