import { InvalidInputError, NotFoundError } from '../errors.js';
import { meets } from '../manifest/effective.js';
import type { LifecycleRequest } from '../schema/types/lifecycle-request.js';
import type { ChannelChoice, Plan, PlanStep } from '../schema/types/plan.js';
import type { Operation, Playbook } from '../schema/types/connector-manifest.js';
import { apiWhat, capabilityBlocks, judgeRoute, queueFor, ssoProtocol, ssoSentence } from './channels.js';
import { byHandRunbookId } from '../registry/by-hand.js';
import type { AppContext, PlanningContext } from './context.js';

const idpOperation = { assign: 'assignApp', unassign: 'unassignApp' } as const;
const expectation = {
  active: 'an active account',
  inactive: 'a deactivated account',
  absent: 'no account',
  matches: 'the requested access',
} as const;

/**
 * The planner: a pure function from a request and what the tenant has to ordered steps, each with
 * its chain of channels and the reason for every choice. Same inputs, same plan; nothing is run.
 */
export function planLifecycle(request: LifecycleRequest, context: PlanningContext): Plan {
  const { app, tenant } = context;
  const manifest = app.connector.manifest;
  if (manifest.id !== request.app) throw new Error(`planning context is for '${manifest.id}', request is for '${request.app}'`);
  const playbook = manifest.playbooks?.[request.playbook];
  if (!playbook) throw new NotFoundError(`playbook for ${manifest.name}`, request.playbook, Object.keys(manifest.playbooks ?? {}));

  const steps: PlanStep[] = [];
  const notes: string[] = [`${manifest.name}: ${manifest.automation.headline} (${manifest.automation.confidence}).`];
  if (!tenant.apps[manifest.id]) {
    const features = (manifest.features ?? []).map((f) => `${f.id} ${f.default ? 'on' : 'off'}`);
    notes.push(
      `${manifest.name} has no entry in tenant '${tenant.tenant}''s profile: its plan is unknown and its features are unknown` +
        `${features.length ? ` (the manifest's defaults are assumed: ${features.join(', ')})` : ''}; no settings or secrets, so channels that need them are skipped. ` +
        `\`patchbay init --apps ${manifest.id}\` writes an entry.`,
    );
  }
  const add = (step: Omit<PlanStep, 'dependsOn'>) => steps.push({ ...step, dependsOn: steps.length ? [steps.at(-1)!.id] : [] });

  const idpStep = planIdpStep(playbook, context);
  if (idpStep) add(idpStep);
  else if (playbook.idp !== 'none') notes.push(`No identity provider in tenant '${tenant.tenant}': nothing to ${playbook.idp} there.`);
  if (context.brokenIdp) notes.push(`The ${context.brokenIdp.because}; what would go through it is done by people instead.`);

  const check = request.playbook === 'offboard' ? planCheckStep(playbook, context) : undefined;
  if (check) add(check);

  for (const name of playbook.steps) add(planAppStep(name, context));

  if (playbook.verify) {
    const operation = manifest.operations[playbook.verify]!;
    const step = planOperation(playbook.verify, operation, app, context, 'verify');
    const wanted = expectation[playbook.expect ?? 'matches'];
    add({
      ...step,
      id: `${manifest.id}-verify`,
      title: `Verify: ${operation.title.toLowerCase()}`,
      reason: `Read the result back and expect ${wanted}; a step whose change is not visible is reopened. ${step.reason}`,
    });
  }

  const approval = tenant.policies?.approvalRequired?.includes(request.playbook) ?? false;
  if (approval) notes.push(`Tenant policy: every ${request.playbook} waits for an approval before its first step.`);
  const disputed = [...app.matrix.facts.values()].filter((f) => f.fact.confidence === 'disputed' && f.applies);
  if (disputed.length) notes.push(`Disputed facts in play: ${disputed.map((f) => f.pointer.replace('/capabilities/', '')).join(', ')}.`);

  return { playbook: request.playbook, app: manifest.id, tenant: tenant.tenant, subject: request.subject, approval, steps, notes };
}

function planIdpStep(playbook: Playbook, context: PlanningContext): Omit<PlanStep, 'dependsOn'> | undefined {
  const { app, idp } = context;
  if (playbook.idp !== 'none' && context.brokenIdp) return planBrokenIdpStep(playbook.idp, context, context.brokenIdp);
  if (playbook.idp === 'none' || !idp) return undefined;
  const name = idpOperation[playbook.idp];
  const appName = app.connector.manifest.name;
  const idpManifest = idp.connector.manifest;
  const operation = idpManifest.operations[name];
  if (!operation) {
    return {
      id: `${idpManifest.id}-${name.toLowerCase()}`,
      app: idpManifest.id,
      operation: name,
      title: `${playbook.idp === 'assign' ? 'Assign' : 'Unassign'} ${appName} in ${idpManifest.name}`,
      role: 'idp',
      channels: [],
      chain: [],
      reason: `${idpManifest.name}'s manifest has no '${name}' operation.`,
      blocked: `${idpManifest.name} cannot ${playbook.idp} apps through Patchbay`,
      watchOutFor: [],
    };
  }
  const step = planOperation(name, operation, idp, context, 'idp');
  const protocol = ssoProtocol(app, idp);
  const why =
    playbook.idp === 'assign'
      ? `Assign ${appName} in ${idpManifest.name} first: ${protocol} sign-in (and JIT, where it works) starts there.`
      : `Unassign ${appName} in ${idpManifest.name} first, so that ${protocol} sign-in through ${idpManifest.name} stops while the rest is done; this alone does not remove the ${appName} account.`;
  // What the app's manifest says for this IdP (protocol, JIT, SCIM through it), in the reason and in the checklist of whoever does it.
  const sso = ssoSentence(app, idp);
  return { ...step, title: `${operation.title}: ${appName}`, reason: `${why} ${sso}. ${step.reason}`, watchOutFor: [...step.watchOutFor, { text: `${sso}.`, blocking: false }] };
}

/**
 * The IdP's step when the profile's identity provider is a broken connector: a person does it in the
 * IdP's console. With its own runbooks loaded (only its API wiring was refused), the step keeps its
 * chain with every machine channel skipped for the broken connector, so the human route follows;
 * with none, a person follows the built-in checklist for any IdP (core/registry/by-hand.ts).
 */
function planBrokenIdpStep(verb: 'assign' | 'unassign', context: PlanningContext, broken: NonNullable<PlanningContext['brokenIdp']>): Omit<PlanStep, 'dependsOn'> {
  const name = idpOperation[verb];
  const appName = context.app.connector.manifest.name;
  const own = broken.context;
  const operation = own?.connector.manifest.operations[name];
  const idpName = own?.connector.manifest.name ?? broken.id;
  const title = `${verb === 'assign' ? 'Assign' : 'Unassign'} ${appName} in ${idpName}`;
  if (own && operation?.channels.some((r) => r.channel === 'human')) {
    // Its machine channels are skipped with the broken connector's reason (planOperation): its own checklist follows.
    const step = planOperation(name, operation, own, context, 'idp');
    return { ...step, title: `${operation.title}: ${appName}`, reason: `${title} by hand, in ${idpName}'s console. ${step.reason}` };
  }
  const why = `${title} by hand: the ${broken.because}.`;
  const runbook = byHandRunbookId[name];
  const queue = queueFor(undefined, context.tenant.apps[broken.id] ?? {}, context.tenant);
  return {
    id: `${broken.id}-${kebab(name)}`,
    app: broken.id,
    operation: name,
    title,
    role: 'idp',
    channels: ['human'],
    chain: [{ channel: 'human', usable: true, runbook, reason: `a person follows the checklist "${runbook}" (queue ${queue})` }],
    reason: `${why} human first: a person follows the checklist "${runbook}" (queue ${queue}).`,
    watchOutFor: [],
  };
}

/**
 * An offboarding whose app can be read by machine (its API, SCIM, or its console's pages through a
 * recipe) starts by reading it: a person already gone makes the app's remaining steps "already
 * done" instead of work for someone, and what the read shows decides which preconditions apply.
 */
function planCheckStep(playbook: Playbook, context: PlanningContext): Omit<PlanStep, 'dependsOn'> | undefined {
  const { app } = context;
  if (!playbook.verify) return undefined;
  const manifest = app.connector.manifest;
  const step = planOperation(playbook.verify, manifest.operations[playbook.verify]!, app, context, 'check');
  const byMachine = (c: ChannelChoice) => c.channel === 'api' || c.channel === 'scim' || c.channel === 'browser';
  const channels = step.chain.filter((c) => c.usable && byMachine(c)).map((c) => c.channel);
  if (!channels.length) return undefined;
  const chain = step.chain.map((c) => (byMachine(c) ? c : { ...c, usable: false, reason: 'the check reads by machine only; people verify at the end' }));
  return {
    ...step,
    id: `${manifest.id}-check`,
    title: `Check whether the account still exists in ${manifest.name}`,
    channels,
    chain,
    // The reason is the check's own chain's: it names no fallback the step's channels do not list.
    reason: `Read ${manifest.name} before changing anything: if the account is already gone, the remaining ${manifest.name} steps are already done. ${explainChain(manifest.operations[playbook.verify]!, chain, app)}`,
  };
}


function planAppStep(name: string, context: PlanningContext): Omit<PlanStep, 'dependsOn'> {
  const { app } = context;
  const manifest = app.connector.manifest;
  const operation = manifest.operations[name]!;
  const owner = (manifest.capabilities.lifecycleSources ?? []).find((source) => {
    if (!source.owns.includes(name) || !app.matrix.state.features.get(source.feature)) return false;
    return meets(source.available.requires, app.matrix.state, manifest).met;
  });
  if (!owner) return planOperation(name, operation, app, context, operation.condition ? 'precondition' : 'action');

  const runbook = app.connector.runbooks.get(owner.runbook)!;
  const blockedChain: ChannelChoice[] = operation.channels.map((route) => ({
    channel: route.channel,
    usable: false,
    reason: `${owner.name} owns ${name} for this tenant`,
    ...(route.runbook ? { runbook: route.runbook } : {}),
    ...(route.recipe ? { recipe: route.recipe } : {}),
  }));
  const queue = queueFor(runbook.queue, app.settings, context.tenant);
  return {
    id: `${manifest.id}-${kebab(name)}`,
    app: manifest.id,
    operation: name,
    title: `${operation.title} (in the ${owner.name.replace(/-tool sync$/i, ' tool').toLowerCase()})`,
    role: 'handover',
    channels: ['human'],
    chain: [{ channel: 'human', usable: true, runbook: owner.runbook, reason: `a person follows the checklist "${runbook.id}" (queue ${queue})` }, ...blockedChain],
    reason: `${owner.name} is switched on and owns ${name}: ${owner.reason} Manual ${name} in ${manifest.name} is blocked.`,
    blocked: `manual ${name} is refused while ${owner.name} manages the member`,
    watchOutFor: watchOuts(operation, app),
  };
}

function planOperation(name: string, operation: Operation, app: AppContext, context: PlanningContext, role: PlanStep['role']): Omit<PlanStep, 'dependsOn'> {
  const manifest = app.connector.manifest;
  const broken = context.brokenIdp;
  // Nothing goes through a broken identity provider: its idp channel, and the machine channels of its own steps.
  const throughBroken = (channel: ChannelChoice['channel']) => !!broken && (channel === 'idp' || (manifest.id === broken.id && channel !== 'human'));
  const chain = operation.channels.map((route) => {
    const choice = judgeRoute(route, name, operation, app, context.tenant, context.idp, context.app);
    return throughBroken(route.channel) ? { ...choice, usable: false, reason: broken!.because } : choice;
  });
  const usable = chain.filter((c) => c.usable);
  return {
    id: `${manifest.id}-${kebab(name)}`,
    app: manifest.id,
    operation: name,
    title: operation.title,
    role,
    channels: usable.map((c) => c.channel),
    chain,
    reason: explainChain(operation, chain, app),
    ...(operation.condition ? { condition: operation.condition } : {}),
    ...(operation.appliesWhen ? { appliesWhen: operation.appliesWhen } : {}),
    ...(usable.length ? {} : { blocked: 'no channel in the chain can be used for this tenant' }),
    watchOutFor: [
      ...watchOuts(operation, app),
      // A step the idp channel may take: whoever ends up doing it reads what the app's manifest says for the tenant's IdP.
      ...(context.idp && role !== 'idp' && operation.channels.some((r) => r.channel === 'idp') ? [{ text: `${ssoSentence(app, context.idp)}.`, blocking: false }] : []),
    ],
  };
}

/**
 * The reason for a step's channels, in one paragraph: why the machine channels the manifest does
 * not list are out, why listed channels were skipped, which one goes first and what backs it up.
 */
function explainChain(operation: Operation, chain: readonly ChannelChoice[], app: AppContext): string {
  const parts: string[] = [];
  for (const channel of ['api', 'scim'] as const) {
    if (operation.channels.some((r) => r.channel === channel)) continue;
    const pointer = channel === 'api' ? `/capabilities/userApi/${operation.access}` : '/capabilities/scim/available';
    const blocked = capabilityBlocks(app.matrix.facts.get(pointer), channel === 'api' ? apiWhat(operation) : 'SCIM');
    if (blocked) parts.push(`${channel} out: ${blocked}.`);
    else if (channel === 'api') parts.push(`api out: ${app.connector.manifest.name} has an API, but the manifest does not route this operation to it.`);
  }
  const usable = chain.filter((c) => c.usable);
  for (const choice of chain.filter((c) => !c.usable)) parts.push(`${choice.channel} skipped: ${choice.reason}.`);
  if (usable.length) parts.push(`${usable[0]!.channel} first: ${usable[0]!.reason}.`);
  for (const fallback of usable.slice(1)) parts.push(`${fallback.channel} if that fails: ${fallback.reason}.`);
  return parts.join(' ');
}
function watchOuts(operation: Operation, app: AppContext): PlanStep['watchOutFor'] {
  return (operation.watchOutFor ?? [])
    .filter((w) => meets(w.when, app.matrix.state, app.connector.manifest).met)
    .map((w) => ({ text: w.text, blocking: w.blocking ?? false }));
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Checks that a request's app is installed for the tenant, naming the profile file when not. */
export function requireInstalled(appId: string, installed: readonly string[], profileFile: string): void {
  if (!installed.includes(appId)) {
    throw new InvalidInputError({ file: profileFile, pointer: '/apps' }, `app '${appId}' is not installed for this tenant (installed: ${installed.join(', ')})`);
  }
}
