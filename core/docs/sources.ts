import { type Source, describeValue } from '../manifest/facts.js';

const describeClaim = (claim: string | readonly string[]) => (typeof claim === 'string' ? `says ${describeValue(claim)}` : `says both ${claim.map((c) => describeValue(c)).join(' and ')}`);

/** Numbers the sources of a page by address, in order of first use, so facts can cite them as [n]. */
export class SourceIndex {
  private readonly entries = new Map<string, { n: number; title?: string; kind: Source['kind']; readAt?: string }>();

  /** Quotes already printed on this page, by address and text: a second fact backed by the same words links without repeating them. */
  private readonly quoted = new Set<string>();

  cite(sources: readonly Source[] | undefined): string {
    if (!sources?.length) return '—';
    // Each citation links to the numbered source and carries its quote beside the first fact it backs;
    // a disputed fact's sources also say what each claims, so the disagreement shows in the row.
    return sources
      .map((source) => {
        const n = this.add(source);
        const key = `${source.url}\n${source.says}`;
        const quote = this.quoted.has(key) ? '' : `: “${source.says}”`;
        this.quoted.add(key);
        return `[[${n}]](#source-${n})${source.claims ? ` ${describeClaim(source.claims)}` : ''}${quote}`;
      })
      .join('\n');
  }

  private add(source: Source): number {
    let entry = this.entries.get(source.url);
    if (!entry) {
      entry = { n: this.entries.size + 1, kind: source.kind };
      this.entries.set(source.url, entry);
    }
    if (source.title && !entry.title) entry.title = source.title;
    if (source.readAt && (!entry.readAt || source.readAt > entry.readAt)) entry.readAt = source.readAt;
    return entry.n;
  }

  /** The numbered list, each source once: title, address, whose page, when it was last read. */
  render(): string {
    if (this.entries.size === 0) return 'No sources cited.';
    return [...this.entries].map(([url, e]) => `${e.n}. <a id="source-${e.n}"></a>${e.title ? `${e.title}, ` : ''}<${url}> (${e.kind}${e.readAt ? `, read ${e.readAt}` : ''})`).join('\n');
  }
}
