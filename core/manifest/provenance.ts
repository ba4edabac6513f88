import type { ConnectorManifest } from '../schema/types/connector-manifest.js';
import { factsOf } from './facts.js';

/** A broken provenance rule, at a JSON pointer inside the manifest. */
export interface ProvenanceProblem {
  readonly pointer: string;
  readonly reason: string;
}

/**
 * The provenance rules that JSON Schema cannot say (the schema already ties "unknown" values to
 * "unknown" confidence and asks for sources): a documented fact cites the vendor; a disputed fact
 * cites sources that say what each claims, and they disagree.
 */
export function checkProvenance(manifest: ConnectorManifest): ProvenanceProblem[] {
  const problems: ProvenanceProblem[] = [];
  for (const { pointer, fact } of factsOf(manifest)) {
    const sources = fact.sources ?? [];
    if (fact.confidence === 'documented' && !sources.some((s) => s.kind === 'vendor')) {
      problems.push({ pointer: `${pointer}/sources`, reason: 'a documented fact must cite at least one vendor source (else it is third-party)' });
    }
    if (fact.confidence === 'disputed') {
      const missing = sources.findIndex((s) => s.claims === undefined);
      if (missing >= 0) {
        problems.push({ pointer: `${pointer}/sources/${missing}/claims`, reason: 'each source of a disputed fact must say what it claims' });
      } else if (new Set(sources.map((s) => s.claims)).size < 2) {
        problems.push({ pointer: `${pointer}/sources`, reason: 'a disputed fact needs sources that claim different values' });
      }
    }
    if (fact.confidence !== 'disputed' && fact.confidence !== 'unknown') {
      const contrary = sources.findIndex((s) => s.claims !== undefined && s.claims !== String(fact.value));
      if (contrary >= 0) {
        problems.push({
          pointer: `${pointer}/sources/${contrary}/claims`,
          reason: `this source claims '${sources[contrary]!.claims}' against the value '${String(fact.value)}': mark the fact disputed`,
        });
      }
    }
  }
  return problems;
}
