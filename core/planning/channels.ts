import { scimEndpoint } from '../channels/scim/endpoint.js';
import type { EffectiveFact } from '../manifest/effective.js';
import type { ChannelRoute, Operation } from '../schema/types/connector-manifest.js';
import type { ChannelChoice } from '../schema/types/plan.js';
import type { AppSettings, TenantProfile } from '../schema/types/tenant-profile.js';
import type { AppContext } from './context.js';
import { missingSettings } from './settings-needed.js';
import { type IdpSso, describeIdpSso, idpSso, jitThrough, sharedProtocol } from './idp-sso.js';

/**
 * Whether one channel of an operation's chain can be used for this tenant, and why in words.
 * The rules are the same for every connector; only the facts and the profile differ.
 */
export function judgeRoute(route: ChannelRoute, name: string, operation: Operation, app: AppContext, tenant: TenantProfile, idp?: AppContext, target?: AppContext): ChannelChoice {
  const base = {
    channel: route.channel,
    ...(route.runbook ? { runbook: route.runbook } : {}),
    ...(route.recipe ? { recipe: route.recipe } : {}),
    ...(route.evidence ? { evidence: route.evidence } : {}),
    ...(route.waitHours ? { waitHours: route.waitHours } : {}),
  };
  const verdict = judges[route.channel](route, name, operation, app, tenant, idp, target);
  return { ...base, ...verdict };
}

type Verdict = { usable: boolean; reason: string };
type Judge = (route: ChannelRoute, name: string, operation: Operation, app: AppContext, tenant: TenantProfile, idp?: AppContext, target?: AppContext) => Verdict;

const judges: Record<ChannelRoute['channel'], Judge> = {
  api(_route, name, operation, app, tenant, _idp, target) {
    const verb = operation.access === 'read' ? 'read' : 'write';
    const fact = app.matrix.facts.get(`/capabilities/userApi/${verb}`);
    const blocked = capabilityBlocks(fact, apiWhat(operation));
    if (blocked) return { usable: false, reason: blocked };
    if (!app.api.implemented.has(name)) return { usable: false, reason: 'no API module implements it' };
    const missing = missingSecrets(app.api.requiredSecrets, app);
    if (missing) return { usable: false, reason: missing };
    const isIdp = app.connector.manifest.id === tenant.idp?.connector;
    if (app.api.requiredSettings.includes('baseUrl') && !app.settings.baseUrl) {
      return { usable: false, reason: `no API address in the tenant profile (${isIdp ? 'idp.baseUrl' : `apps.${app.connector.manifest.id}.baseUrl`})` };
    }
    // Settings the declared calls bind ({accountId} in a header, {settings.subdomain} in the URL): missing, the call cannot be made.
    const lacking = missingSettings(app.connector.manifest, app.settings, [name]);
    if (lacking.length) {
      const where = isIdp ? '/idp' : `/apps/${app.connector.manifest.id}`;
      return { usable: false, reason: `the tenant profile has nothing at ${lacking.map((m) => `${where}${m.pointer} (${m.uses.join(', ')})`).join(' and ')}, which the manifest's ${name} call needs` };
    }
    // A step in the identity provider on behalf of an app needs the app's id there.
    if (isIdp && target && target !== app && !target.settings.idpAppId) {
      return { usable: false, reason: `${target.connector.manifest.name}'s id in ${app.connector.manifest.name} is not in the tenant profile (apps.${target.connector.manifest.id}.idpAppId)` };
    }
    return { usable: true, reason: `the API can ${verb}${confidenceNote(fact!)}` };
  },

  scim(_route, _name, _operation, app) {
    const blocked = capabilityBlocks(app.matrix.facts.get('/capabilities/scim/available'), 'SCIM');
    if (blocked) return { usable: false, reason: blocked };
    const endpoint = scimEndpoint(app.connector.manifest, app.settings);
    if ('missing' in endpoint) return { usable: false, reason: endpoint.missing };
    const missing = missingSecrets(['token'], app);
    if (missing) return { usable: false, reason: missing };
    return { usable: true, reason: `SCIM endpoint ${endpoint.url}${endpoint.from === 'manifest' ? ' (the manifest\'s address for this tenant)' : ''}` };
  },

  idp(route, name, _operation, app, _tenant, idp) {
    if (!idp) return { usable: false, reason: 'the tenant profile names no identity provider' };
    const idpName = idp.connector.manifest.name;
    if (name !== 'createUser') return { usable: true, reason: `through ${idpName}` };
    // What the app's manifest says for this IdP (capabilities.sso.idps.<idp>) before its general JIT fact.
    const sso = ssoWith(app, idp);
    const jit = jitThrough(sso, app.matrix.facts.get('/capabilities/sso/jit'));
    if (jit.blocked) return { usable: false, reason: jit.blocked };
    const wait = route.evidence ? `; Patchbay waits for evidence (${route.evidence}) before moving on` : '';
    return { usable: true, reason: `JIT on the first ${ssoProtocol(app, idp)} sign-in through ${idpName}${jit.note}; ${ssoSentence(app, idp)}${wait}` };
  },

  browser(route, _name, _operation, app, tenant) {
    const policy = app.settings.browserAutomation ?? tenant.policies?.browserAutomation ?? 'forbidden';
    if (policy !== 'allowed') {
      const where = app.settings.browserAutomation ? `apps.${app.connector.manifest.id}.browserAutomation` : 'policies.browserAutomation';
      return { usable: false, reason: `browser automation is not allowed by the tenant's policy (${where}: ${app.settings.browserAutomation || tenant.policies?.browserAutomation ? 'forbidden' : 'not set, so forbidden'})` };
    }
    if (!app.settings.consoleUrl) return { usable: false, reason: `no admin console URL in the tenant profile (apps.${app.connector.manifest.id}.consoleUrl)` };
    const recipe = app.connector.recipes.get(route.recipe!)!;
    const secrets = Object.entries(recipe.parameters).filter(([, p]) => p.type === 'secret').map(([key]) => key);
    const missing = missingSecrets(secrets, app);
    if (missing) return { usable: false, reason: missing };
    return { usable: true, reason: `the recipe "${recipe.title}" drives the admin console; browser automation is allowed` };
  },

  human(route, _name, _operation, app, tenant) {
    const runbook = app.connector.runbooks.get(route.runbook!)!;
    const queue = queueFor(runbook.queue, app.settings, tenant);
    const due = runbook.slaHours ? `, due within ${runbook.slaHours} h` : '';
    return { usable: true, reason: `a person follows the checklist "${runbook.id}" (queue ${queue}${due})` };
  },
};

/**
 * The sign-in protocol between the app and the tenant's IdP: the app's word for that IdP
 * (sso.idps.<idp>) when it names one; else from both manifests' SSO facts, the first protocol the
 * app lists that the IdP speaks too (the app's order is its preference), else the app's first,
 * else the IdP's first; "SSO" when neither manifest says.
 */
export function ssoProtocol(app: AppContext, idp: AppContext): string {
  return sharedProtocol(ssoWith(app, idp), app.matrix, idp.matrix);
}

/** What the app's manifest says about SSO with the tenant's IdP (core/planning/idp-sso.ts). */
export function ssoWith(app: AppContext, idp: AppContext): IdpSso {
  return idpSso({ matrix: app.matrix, name: app.connector.manifest.name }, { id: idp.connector.manifest.id, name: idp.connector.manifest.name });
}

/**
 * The app's SSO facts for the tenant's IdP in one sentence, for reasons and watch-outs; when the app
 * lists other IdPs but not this one, it adds that the generic setup of the shared protocol applies.
 */
export function ssoSentence(app: AppContext, idp: AppContext): string {
  const sso = ssoWith(app, idp);
  return `${describeIdpSso(sso)}${sso.state === 'not-listed' ? `, so the generic ${ssoProtocol(app, idp)} setup applies` : ''}`;
}

/** Why a capability fact rules a channel out, or undefined when it allows it. */
export function capabilityBlocks(fact: EffectiveFact | undefined, what: string): string | undefined {
  if (!fact) return `the manifest does not say whether ${what} is available`;
  if (!fact.applies) return `${what} ${fact.reason}`;
  if (fact.value === 'notSupported') return `${what} is not supported (${fact.fact.confidence})`;
  if (fact.value === 'unknown') return `whether ${what} is possible is unknown: nobody documents it`;
  return undefined;
}

export const apiWhat = (operation: Operation) => (operation.access === 'read' ? 'reading through the API' : 'writing through the API');

function confidenceNote(fact: EffectiveFact): string {
  return fact.fact.confidence === 'documented' ? '' : ` (${fact.fact.confidence}${fact.fact.confidence === 'disputed' ? ': sources disagree' : ''})`;
}

function missingSecrets(names: readonly string[], app: AppContext): string | undefined {
  const missing = names.filter((name) => !app.settings.secrets?.[name]);
  if (!missing.length) return undefined;
  return `no secret reference for ${missing.join(', ')} in the tenant profile (${app.connector.manifest.kind === 'idp' ? 'idp' : `apps.${app.connector.manifest.id}`}.secrets)`;
}

/**
 * The queue a human task goes to: the runbook's own queue when the tenant has it (ownership
 * transfers go to finance), else the app's queue in the profile, else the tenant's first queue.
 */
export function queueFor(runbookQueue: string | undefined, settings: AppSettings, tenant: TenantProfile): string {
  const queues = tenant.queues?.map((q) => q.id) ?? [];
  if (runbookQueue && (queues.length === 0 || queues.includes(runbookQueue))) return runbookQueue;
  return settings.queue ?? queues[0] ?? 'unassigned';
}
