import type { EffectiveFact, EffectiveMatrix } from '../manifest/effective.js';
import type { Confidence } from '../schema/types/connector-manifest.js';

/**
 * What an app's manifest says about single sign-on with one identity provider
 * (`capabilities.sso.idps.<idp id>`, manifest v2), read for the tenant's IdP. The planner's
 * reasons and watch-outs and the idp channel's step texts are written from it, so that a tenant on
 * Entra ID reads about Entra ID, not about Okta.
 *
 * - `stated`: the manifest states SSO with this IdP (protocols, JIT, SCIM through it);
 * - `unknown`: the manifest has an entry for this IdP whose value is unknown (nobody documents it);
 * - `not-listed`: the manifest states SSO for other IdPs, not this one;
 * - `none`: the manifest states nothing per IdP.
 */
export interface IdpSso {
  readonly app: string;
  readonly appName: string;
  readonly idp: string;
  readonly idpName: string;
  readonly state: 'stated' | 'unknown' | 'not-listed' | 'none';
  /** The sign-in protocols with this IdP as the manifest names them ("SAML 2.0"); empty when not stated or when there is no SSO with it. */
  readonly protocols: readonly string[];
  /** JIT account creation through this IdP: the per-IdP value when stated, else unknown. */
  readonly jit: 'supported' | 'notSupported' | 'unknown';
  /** Provisioning through this IdP's catalogue app (the schema's words: supported, notSupported, jit-only, via-third-party, unknown). */
  readonly scim: string;
  /** The per-IdP fact's confidence, when there is one. */
  readonly confidence?: Confidence;
  /** The IdPs the manifest states SSO for, by id, when this one is not among them. */
  readonly listed: readonly string[];
}

/** The identity providers' names, for IdPs named in manifests that the catalogue may not hold (OneLogin has no connector). */
export const idpNames: Readonly<Record<string, string>> = { okta: 'Okta', 'entra-id': 'Microsoft Entra ID', 'google-workspace': 'Google Workspace', onelogin: 'OneLogin' };

const prefix = '/capabilities/sso/idps/';

/**
 * Reads `capabilities.sso.idps.<idp>` from the app's effective matrix.
 * @param app the app's effective matrix and display name.
 * @param idp the tenant's IdP: its connector id and display name.
 */
export function idpSso(app: { readonly matrix: EffectiveMatrix; readonly name: string }, idp: { readonly id: string; readonly name: string }): IdpSso {
  const base = { app: app.matrix.connector, appName: app.name, idp: idp.id, idpName: idp.name };
  const listed = [...app.matrix.facts.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  const fact = app.matrix.facts.get(`${prefix}${idp.id}`);
  const unknown = { protocols: [], jit: 'unknown', scim: 'unknown' } as const;
  if (!fact) return { ...base, ...unknown, state: listed.length ? 'not-listed' : 'none', listed };
  const value = fact.value as { protocols: string[]; jit: 'supported' | 'notSupported' | 'unknown'; scim: string } | 'unknown';
  if (value === 'unknown' || typeof value !== 'object') return { ...base, ...unknown, state: 'unknown', confidence: fact.fact.confidence, listed: [] };
  return { ...base, state: 'stated', protocols: value.protocols, jit: value.jit, scim: value.scim, confidence: fact.fact.confidence, listed: [] };
}

/**
 * The sign-in protocol between the app and the tenant's IdP, as one word ("SAML", "OIDC"): the
 * app's word for that IdP when it names one; else from both manifests' SSO facts, the first
 * protocol the app lists that the IdP speaks too (the app's order is its preference), else the
 * app's first, else the IdP's first; "SSO" when neither manifest says.
 */
export function sharedProtocol(sso: IdpSso, app: EffectiveMatrix, idp: EffectiveMatrix): string {
  const word = (protocol: string) => protocol.split(' ')[0]!;
  if (sso.protocols[0]) return word(sso.protocols[0]);
  const list = (matrix: EffectiveMatrix) => {
    const value = matrix.facts.get('/capabilities/sso/protocols')?.value;
    return Array.isArray(value) ? (value as string[]) : [];
  };
  const theirs = list(idp);
  const ours = list(app);
  const shared = ours.find((p) => theirs.some((q) => word(q).toLowerCase() === word(p).toLowerCase()));
  const first = shared ?? ours[0] ?? theirs[0];
  return first ? word(first) : 'SSO';
}

const scimWords: Readonly<Record<string, string>> = {
  supported: 'supported',
  notSupported: 'not supported',
  'jit-only': 'not offered (JIT only)',
  'via-third-party': 'only through a third party',
  unknown: 'unknown (not documented)',
};

const confidenceWords = (c: Confidence | undefined) => (c && c !== 'documented' ? `, ${c}${c === 'disputed' ? ': sources disagree' : ''}` : '');
/** " (disputed: sources disagree)", " (third-party)"; nothing for documented. */
const confidenceNote = (c: Confidence | undefined) => (c && c !== 'documented' ? ` (${c}${c === 'disputed' ? ': sources disagree' : ''})` : '');

/**
 * One sentence for people: what the app's manifest says about SSO, JIT and SCIM with the tenant's
 * IdP, unknowns said as unknown ("Spendesk with Okta: SAML 2.0 sign-in, JIT supported, SCIM through
 * Okta unknown (not documented)").
 */
export function describeIdpSso(sso: IdpSso): string {
  const { appName, idpName } = sso;
  switch (sso.state) {
    case 'stated': {
      const protocols = sso.protocols.length ? `${sso.protocols.join(' or ')} sign-in` : 'no SSO sign-in';
      const jit = sso.jit === 'unknown' ? 'JIT unknown (not documented)' : `JIT ${sso.jit === 'supported' ? 'supported' : 'not supported'}`;
      return `${appName} with ${idpName}: ${protocols}, ${jit}, SCIM through ${idpName} ${scimWords[sso.scim] ?? sso.scim}${confidenceWords(sso.confidence)}`;
    }
    case 'unknown':
      return `${appName} with ${idpName}: protocol, JIT and SCIM through ${idpName} are unknown (its manifest says nobody documents them)`;
    case 'not-listed':
      return `${appName} does not list ${idpName} among the identity providers its SSO is documented with (${sso.listed.map((id) => idpNames[id] ?? id).join(', ')}): protocol, JIT and SCIM through ${idpName} are unknown`;
    case 'none':
      return `${appName}'s manifest says nothing of SSO with ${idpName} in particular: protocol, JIT and SCIM through ${idpName} are unknown`;
  }
}

/**
 * Whether JIT through the tenant's IdP can be counted on, for the idp channel: the per-IdP value
 * when the manifest states one (the more specific fact), else the app's general JIT fact.
 * @param general the effective `/capabilities/sso/jit` fact (undefined when the manifest has none).
 * @returns `blocked` with the reason when JIT through this IdP is ruled out; else the confidence
 *   note to print (the weaker of the two facts: a general JIT fact that is disputed stays disputed).
 */
export function jitThrough(sso: IdpSso, general: EffectiveFact | undefined): { blocked?: string; note: string } {
  if (general && !general.applies) return { blocked: `JIT provisioning ${general.reason}`, note: '' };
  const generalConfidence = general?.fact.confidence;
  if (sso.state === 'stated' && sso.jit !== 'unknown') {
    if (sso.jit === 'notSupported') return { blocked: `JIT through ${sso.idpName} is not supported (${sso.confidence ?? 'documented'}, ${sso.appName}'s SSO facts for ${sso.idpName})`, note: '' };
    const weaker = generalConfidence === 'disputed' ? 'disputed' : sso.confidence;
    return { note: confidenceNote(weaker) };
  }
  if (!general) return { blocked: 'the manifest does not say whether JIT provisioning is available', note: '' };
  if (general.value === 'notSupported') return { blocked: `JIT provisioning is not supported (${general.fact.confidence})`, note: '' };
  if (general.value === 'unknown') return { blocked: 'whether JIT provisioning is possible is unknown: nobody documents it', note: '' };
  return { note: confidenceNote(generalConfidence) };
}
