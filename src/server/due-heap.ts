// The scheduler's due times: a binary min-heap, so the next due channel is an O(1) peek.

/** One due time in the heap. */
export interface DueEntry {
  at: number;
  seq: number;
  channelId: string;
}

/** A binary min-heap of due times (ties in insertion order); re-planning pushes a new entry. */
export class DueHeap {
  readonly #items: DueEntry[] = [];
  #seq = 0;

  peek(): DueEntry | undefined {
    return this.#items[0];
  }

  push(channelId: string, at: number): void {
    const items = this.#items;
    items.push({ at, seq: this.#seq++, channelId });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): DueEntry | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && before(items[l]!, items[m]!)) m = l;
      if (r < items.length && before(items[r]!, items[m]!)) m = r;
      if (m === i) break;
      [items[i], items[m]] = [items[m]!, items[i]!];
      i = m;
    }
    return top;
  }
}

function before(a: DueEntry, b: DueEntry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
