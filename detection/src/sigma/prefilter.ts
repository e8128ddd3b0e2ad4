/**
 * Candidate selection so per-event cost does not grow with the number of rules: for each field
 * used in rule keys, one Aho-Corasick automaton over all rules' required literals finds, in one
 * pass over the (lower-cased) field value, every rule that can still match. Rules without a key
 * are always candidates.
 */
import type { EventView } from "./event-view";
import type { Key } from "./detection";

class AhoCorasick {
  private next: Map<number, number>[] = [new Map<number, number>()];
  private fail: number[] = [0];
  private out: number[][] = [[]];

  add(word: string, id: number): void {
    let s = 0;
    for (let i = 0; i < word.length; i++) {
      const c = word.charCodeAt(i);
      let n = this.next[s].get(c);
      if (n === undefined) {
        n = this.next.length;
        this.next.push(new Map());
        this.fail.push(0);
        this.out.push([]);
        this.next[s].set(c, n);
      }
      s = n;
    }
    if (!this.out[s].includes(id)) this.out[s].push(id);
  }

  build(): void {
    const queue: number[] = [];
    for (const n of this.next[0].values()) queue.push(n);
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi];
      for (const [c, n] of this.next[s]) {
        let f = this.fail[s];
        while (f !== 0 && !this.next[f].has(c)) f = this.fail[f];
        const target = this.next[f].get(c);
        this.fail[n] = target !== undefined && target !== n ? target : 0;
        for (const id of this.out[this.fail[n]]) if (!this.out[n].includes(id)) this.out[n].push(id);
        queue.push(n);
      }
    }
  }

  search(text: string, hit: (id: number) => void): void {
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let n = this.next[s].get(c);
      while (n === undefined && s !== 0) {
        s = this.fail[s];
        n = this.next[s].get(c);
      }
      s = n ?? 0;
      const o = this.out[s];
      for (let k = 0; k < o.length; k++) hit(o[k]);
    }
  }
}

/** Candidate finder over a fixed list of rules (given as their keys, by position). */
export class Prefilter {
  private automata = new Map<string, AhoCorasick>();
  private always: number[] = [];
  private stamp: Uint32Array;
  private round = 0;

  constructor(keys: (Key | null)[]) {
    this.stamp = new Uint32Array(keys.length);
    keys.forEach((key, pos) => {
      if (!key) {
        this.always.push(pos);
        return;
      }
      for (const { field, needle } of key) {
        let ac = this.automata.get(field);
        if (!ac) this.automata.set(field, (ac = new AhoCorasick()));
        ac.add(needle, pos);
      }
    });
    for (const ac of this.automata.values()) ac.build();
  }

  /** Positions of the rules that may match `ev`, in no particular order. */
  candidates(ev: EventView): number[] {
    const out = this.always.slice();
    const round = ++this.round === 0xffffffff ? this.reset() : this.round;
    const stamp = this.stamp;
    const hit = (pos: number): void => {
      if (stamp[pos] !== round) {
        stamp[pos] = round;
        out.push(pos);
      }
    };
    for (const [field, ac] of this.automata) {
      const fv = ev.values(field);
      if (fv) for (const s of fv.lower) ac.search(s, hit);
    }
    return out;
  }

  private reset(): number {
    this.stamp.fill(0);
    this.round = 1;
    return 1;
  }
}
