// no_repeat_ngram_size as in transformers' NoRepeatNGramLogitsProcessor, over the whole sequence
// (prompt ids included, mgie-reference.md §3): a token that would complete an n-gram already present
// anywhere in the sequence is banned. Kept incrementally so each step costs O(n), not O(length).
export class NoRepeatNgram {
  private readonly sequence: number[] = [];
  /** (n-1)-token prefix -> tokens that followed it somewhere. */
  private readonly followers = new Map<string, Set<number>>();

  constructor(readonly size: number, initialIds: readonly number[] = []) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`no-repeat n-gram size must be an integer >= 0, got ${size}`);
    for (const id of initialIds) this.push(id);
  }

  push(id: number): void {
    this.sequence.push(id);
    const n = this.size;
    if (n === 0 || this.sequence.length < n) return;
    const key = this.keyEndingAt(this.sequence.length - 1);
    let set = this.followers.get(key);
    if (!set) this.followers.set(key, (set = new Set()));
    set.add(id);
  }

  /** Tokens banned as the next token. */
  bannedTokens(): ReadonlySet<number> {
    const n = this.size;
    // transformers bans nothing until the sequence holds at least n-1 tokens to form a prefix.
    if (n === 0 || this.sequence.length + 1 < n) return EMPTY;
    return this.followers.get(this.keyEndingAt(this.sequence.length)) ?? EMPTY;
  }

  /** Sets banned tokens' logits to -Infinity (probability 0), in place. */
  apply(logits: Float32Array): void {
    for (const id of this.bannedTokens()) logits[id] = -Infinity;
  }

  /** The n-1 tokens before position `end` (exclusive) as a map key. */
  private keyEndingAt(end: number): string {
    return this.sequence.slice(end - (this.size - 1), end).join(',');
  }
}

const EMPTY: ReadonlySet<number> = new Set();
