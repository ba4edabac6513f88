import { type Source, describeValue } from '../manifest/facts.js';

const describeClaim = (claim: string | readonly string[]) => (typeof claim === 'string' ? `says ${describeValue(claim)}` : `says both ${claim.map((c) => describeValue(c)).join(' and ')}`);

/** Numbers the sources of a page by address, in order of first use, so facts can cite them as [n]. */
export class SourceIndex {
  private readonly entries = new Map<string, { n: number; title?: string; kind: Source['kind']; says: Set<string> }>();

  cite(sources: readonly Source[] | undefined): string {
    if (!sources?.length) return '—';
    // A disputed fact's sources say what each claims, so the reader sees the disagreement in the row.
    return sources.map((source) => `[${this.add(source)}]${source.claims ? ` ${describeClaim(source.claims)}` : ''}`).join(', ');
  }

  private add(source: Source): number {
    let entry = this.entries.get(source.url);
    if (!entry) {
      entry = { n: this.entries.size + 1, kind: source.kind, says: new Set() };
      this.entries.set(source.url, entry);
    }
    if (source.title && !entry.title) entry.title = source.title;
    entry.says.add(source.says);
    return entry.n;
  }

  /** The numbered list, each source with what it says. */
  render(): string {
    if (this.entries.size === 0) return 'No sources cited.';
    return [...this.entries]
      .map(([url, e]) => {
        const says = [...e.says].map((s) => `   - ${s}`).join('\n');
        return `${e.n}. ${e.title ? `${e.title}, ` : ''}<${url}> (${e.kind})\n${says}`;
      })
      .join('\n');
  }
}
