import type { ScimServerConfig } from '../channels/scim/client.js';
import type { EffectiveFact, EffectiveMatrix } from './effective.js';
import type { Fact } from './facts.js';

/**
 * The effective matrix of a SCIM app with what its server said about itself: PATCH, filter, bulk
 * and maximum results become documented facts whose source is the server's /ServiceProviderConfig.
 */
export function withScimDiscovery(matrix: EffectiveMatrix, config: ScimServerConfig, baseUrl: string, checkedAt: string): EffectiveMatrix {
  const url = `${baseUrl.replace(/\/$/, '')}/ServiceProviderConfig`;
  const fact = (value: unknown, says: string): Fact => ({ value, confidence: 'documented', checkedAt, sources: [{ url, kind: 'vendor', says, readAt: checkedAt }] });
  const facts = new Map(matrix.facts);
  const set = (pointer: string, f: Fact) => facts.set(pointer, { pointer, fact: f, applies: true, value: f.value } satisfies EffectiveFact);
  if (config.serviceProviderConfig === false) {
    // A server without /ServiceProviderConfig said nothing: its features stay unknown (Patchbay works on safe defaults).
    const note = `${config.notes[0] ?? 'no /ServiceProviderConfig'}`;
    for (const key of ['patch', 'filter', 'bulk']) set(`/capabilities/scim/${key}`, { value: 'unknown', confidence: 'unknown', checkedAt, note });
    return { ...matrix, facts };
  }
  set('/capabilities/scim/patch', fact(config.patch ? 'supported' : 'notSupported', `patch.supported = ${config.patch}`));
  set('/capabilities/scim/filter', fact(config.filter ? 'supported' : 'notSupported', `filter.supported = ${config.filter}`));
  set('/capabilities/scim/bulk', fact(config.bulk ? 'supported' : 'notSupported', `bulk.supported = ${config.bulk}`));
  if (config.maxResults !== undefined) set('/capabilities/scim/maxResults', fact(config.maxResults, `filter.maxResults = ${config.maxResults}`));
  return { ...matrix, facts };
}
