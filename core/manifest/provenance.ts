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
 * cites sources that say what each claims, and they disagree (or one source claims two values:
 * it contradicts itself); a second-hand fact reports the vendor through someone else, so it cites a
 * third party; "absent" (documented as absent) is said by a source; no source is read after the
 * fact was checked, nor in the future.
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
      } else if (new Set(sources.flatMap((s) => (Array.isArray(s.claims) ? s.claims : [s.claims]))).size < 2) {
        problems.push({ pointer: `${pointer}/sources`, reason: 'a disputed fact needs sources that claim different values' });
      }
    }
    if (fact.confidence === 'second-hand' && !sources.some((s) => s.kind === 'third-party')) {
      problems.push({ pointer: `${pointer}/sources`, reason: "a second-hand fact cites who reported the vendor's word (a third-party source); with the vendor's own page it is documented" });
    }
    sources.forEach((s, i) => {
      if (Array.isArray(s.claims) && fact.confidence !== 'disputed') {
        problems.push({ pointer: `${pointer}/sources/${i}/claims`, reason: 'this source contradicts itself (it claims two values): mark the fact disputed' });
      }
      if (s.readAt && s.readAt > fact.checkedAt) {
        problems.push({ pointer: `${pointer}/sources/${i}/readAt`, reason: `read on ${s.readAt}, after the fact was checked (${fact.checkedAt})` });
      }
    });
    if (fact.confidence !== 'disputed' && fact.confidence !== 'unknown') {
      const contrary = sources.findIndex((s) => typeof s.claims === 'string' && s.claims !== String(fact.value));
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
