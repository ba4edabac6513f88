import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServices } from '../../core/container.js';
import type { StartResult } from '../../core/engine/port.js';
import type { Plan } from '../../core/schema/types/plan.js';
import type { TenantProfile } from '../../core/schema/types/tenant-profile.js';
import { scratchDir } from '../support/fixtures.js';
import { harness, hour } from '../support/runtime.js';

/*
 * The idp channel and the planner say what the app's manifest says about SSO with the tenant's own
 * identity provider (capabilities.sso.idps.<idp>): a catalogue built here, never the shipped one.
 * Kiosk, a made-up app, states OIDC with JIT and SCIM for Okta, SAML without JIT for Entra ID, and
 * an unknown entry for Google Workspace; Ledgerly states Okta only.
 */
const checkedAt = '2026-11-29';
const doc = (says: string) => ({ confidence: 'documented', checkedAt, sources: [{ url: 'https://help.kiosk.example.com/sso', title: 'Kiosk help: single sign-on', kind: 'vendor', says, readAt: checkedAt }] });
const unknown = { value: 'unknown', confidence: 'unknown', checkedAt };
const runbook = (id: string, title: string) => ({ id, title, queue: 'it-ops', slaHours: 8, steps: [{ text: `${title}.` }], evidence: [{ id: 'done', label: 'Done', kind: 'attestation', required: true }] });

function app(id: string, name: string, idps: Record<string, unknown>) {
  return {
    manifest: {
      schemaVersion: 2,
      id,
      name,
      kind: 'app',
      reviewedAt: checkedAt,
      automation: { value: 'manual-only', headline: 'Manual only, JIT through the IdP', ...doc('Accounts are made on the first sign-in.') },
      capabilities: {
        auth: { method: unknown },
        userApi: { read: unknown, write: unknown },
        scim: { available: { value: 'notSupported', ...doc('No SCIM endpoint of its own.') } },
        sso: { protocols: { value: ['SAML 2.0', 'OpenID Connect'], ...doc('SAML 2.0 and OpenID Connect.') }, jit: { value: 'supported', ...doc('Accounts are created on the first SSO sign-in.') }, idps },
        webhooks: { available: unknown },
        pagination: { method: unknown },
        rateLimits: { limits: unknown },
        entitlements: { roles: unknown },
        bulkImport: { available: unknown },
      },
      operations: {
        getUser: { title: 'Confirm the account', access: 'read', channels: [{ channel: 'human', runbook: 'confirm-user' }] },
        createUser: { title: 'Create the account', access: 'write', channels: [{ channel: 'idp', evidence: 'a sign-in in the IdP log', waitHours: 24 }, { channel: 'human', runbook: 'add-user' }] },
        deactivateUser: { title: 'Remove the account', access: 'write', channels: [{ channel: 'human', runbook: 'remove-user' }] },
      },
      playbooks: {
        onboard: { idp: 'assign', steps: ['createUser'], verify: 'getUser', expect: 'active' },
        offboard: { idp: 'unassign', steps: ['deactivateUser'], verify: 'getUser', expect: 'absent' },
      },
    },
    runbooks: [runbook('confirm-user', `Confirm {email} in ${name}`), runbook('add-user', `Add {email} to ${name}`), runbook('remove-user', `Remove {email} from ${name}`)],
  };
}

function idp(id: string, name: string, protocols: string[]) {
  return {
    manifest: {
      schemaVersion: 2,
      id,
      name,
      kind: 'idp',
      reviewedAt: checkedAt,
      automation: { value: 'manual-only', headline: 'Assignments by a person', ...doc('Assignments are made in the admin console.') },
      capabilities: {
        auth: { method: unknown },
        userApi: { read: unknown, write: unknown },
        scim: { available: unknown },
        sso: { protocols: { value: protocols, ...doc(protocols.join(', ')) }, jit: unknown },
        webhooks: { available: unknown },
        pagination: { method: unknown },
        rateLimits: { limits: unknown },
        entitlements: { roles: unknown },
        bulkImport: { available: unknown },
      },
      operations: {
        assignApp: { title: `Assign the app in ${name}`, access: 'write', channels: [{ channel: 'human', runbook: 'assign-app' }] },
        unassignApp: { title: `Remove the app assignment in ${name}`, access: 'write', channels: [{ channel: 'human', runbook: 'unassign-app' }] },
      },
      playbooks: {},
    },
    runbooks: [runbook('assign-app', `Assign {email} to {app} in ${name}`), runbook('unassign-app', `Unassign {email} from {app} in ${name}`)],
  };
}

/** The catalogue on disk: one folder per connector, with its runbooks. */
function catalogue(): string {
  const dir = scratchDir('patchbay-idp-sso-');
  const connectors = [
    app('kiosk', 'Kiosk', {
      okta: { value: { protocols: ['OpenID Connect'], jit: 'supported', scim: 'supported', listing: 'Okta Integration Network' }, ...doc('With Okta: OIDC sign-in, JIT, and SCIM through the OIN app.') },
      'entra-id': { value: { protocols: ['SAML 2.0'], jit: 'notSupported', scim: 'notSupported' }, ...doc('With Entra ID: SAML sign-in only; users must be invited first.') },
      'google-workspace': { ...unknown, note: 'Google Workspace is not mentioned on the SSO page.' },
    }),
    app('ledgerly', 'Ledgerly', { okta: { value: { protocols: ['SAML 2.0'], jit: 'supported', scim: 'unknown' }, ...doc('With Okta: SAML and JIT.') } }),
    idp('okta', 'Okta', ['SAML 2.0', 'OpenID Connect']),
    idp('entra-id', 'Microsoft Entra ID', ['SAML 2.0', 'OpenID Connect']),
    idp('google-workspace', 'Google Workspace', ['SAML 2.0']),
  ];
  for (const { manifest, runbooks } of connectors) {
    mkdirSync(path.join(dir, manifest.id, 'runbooks'), { recursive: true });
    writeFileSync(path.join(dir, manifest.id, 'manifest.json'), JSON.stringify(manifest, null, 2));
    for (const r of runbooks) writeFileSync(path.join(dir, manifest.id, 'runbooks', `${r.id}.json`), JSON.stringify(r, null, 2));
  }
  return dir;
}

const dir = catalogue();
const services = createServices({ connectorsDir: dir, modules: [] });

const tenant = (idpId: string): TenantProfile => ({
  tenant: 'acme',
  idp: { connector: idpId },
  apps: { kiosk: { queue: 'it-ops' }, ledgerly: { queue: 'it-ops' } },
  queues: [{ id: 'it-ops', name: 'IT operations', members: ['it.oncall@acme.example'] }],
});

function plan(playbook: string, idpId: string, appId = 'kiosk'): Plan {
  const profile = services.profiles.check(tenant(idpId), 'tenant.json');
  const result = services.planner.plan({ playbook, app: appId, subject: { email: 'alice@acme.com' } }, { profile, file: 'tenant.json' });
  services.validator.validate('plan', result, 'plan');
  return result;
}
const createStep = (p: Plan) => p.steps.find((s) => s.operation === 'createUser')!;

describe("the idp channel reads the app's SSO facts for the tenant's IdP", () => {
  it('the test catalogue loads whole (no connector refused)', () => {
    assert.deepEqual(services.registry.broken(), []);
    assert.deepEqual(services.registry.list().map((c) => c.manifest.id).sort(), ['entra-id', 'google-workspace', 'kiosk', 'ledgerly', 'okta']);
  });

  it("Okta: JIT on the first OIDC sign-in, and SCIM through Okta, as Kiosk's Okta entry says", () => {
    const p = plan('onboard', 'okta');
    const create = createStep(p);
    assert.deepEqual(create.channels, ['idp', 'human']);
    assert.match(create.chain[0]!.reason, /^JIT on the first OpenID sign-in through Okta; Kiosk with Okta: OpenID Connect sign-in, JIT supported, SCIM through Okta supported; Patchbay waits/);
    assert.doesNotMatch(create.chain[0]!.reason, /SAML/);
    // The checklist of whoever takes the step over says it too.
    assert.ok(create.watchOutFor.some((w) => w.text === 'Kiosk with Okta: OpenID Connect sign-in, JIT supported, SCIM through Okta supported.'));
    const assign = p.steps[0]!;
    assert.equal(assign.app, 'okta');
    assert.match(assign.reason, /^Assign Kiosk in Okta first: OpenID sign-in \(and JIT, where it works\) starts there\. Kiosk with Okta: OpenID Connect sign-in, JIT supported, SCIM through Okta supported\./);
  });

  it("Entra ID: Kiosk documents no JIT with Entra ID, so the idp channel is ruled out and the step goes to a person", () => {
    const p = plan('onboard', 'entra-id');
    const create = createStep(p);
    assert.deepEqual(create.channels, ['human']);
    assert.equal(create.chain[0]!.usable, false);
    assert.equal(create.chain[0]!.reason, "JIT through Microsoft Entra ID is not supported (documented, Kiosk's SSO facts for Microsoft Entra ID)");
    assert.ok(create.watchOutFor.some((w) => w.text === 'Kiosk with Microsoft Entra ID: SAML 2.0 sign-in, JIT not supported, SCIM through Microsoft Entra ID not supported.'));
    assert.match(p.steps[0]!.reason, /^Assign Kiosk in Microsoft Entra ID first: SAML sign-in/);
  });

  it('Google Workspace, whose entry is unknown: said as unknown, and JIT rests on the general fact', () => {
    const create = createStep(plan('onboard', 'google-workspace'));
    assert.deepEqual(create.channels, ['idp', 'human']);
    assert.match(create.chain[0]!.reason, /^JIT on the first SAML sign-in through Google Workspace; Kiosk with Google Workspace: protocol, JIT and SCIM through Google Workspace are unknown \(its manifest says nobody documents them\); Patchbay waits/);
  });

  it('an IdP the app does not list: the IdPs it does list are named, and the rest is unknown', () => {
    const create = createStep(plan('onboard', 'entra-id', 'ledgerly'));
    assert.deepEqual(create.channels, ['idp', 'human']);
    assert.match(create.chain[0]!.reason, /Ledgerly does not list Microsoft Entra ID among the identity providers its SSO is documented with \(Okta\): protocol, JIT and SCIM through Microsoft Entra ID are unknown, so the generic SAML setup applies/);
  });

  it('offboarding: the unassignment says which sign-in stops, with the IdP named', () => {
    const [first] = plan('offboard', 'okta').steps;
    assert.match(first!.reason, /^Unassign Kiosk in Okta first, so that OpenID sign-in through Okta stops while the rest is done; this alone does not remove the Kiosk account\. Kiosk with Okta: OpenID Connect sign-in, JIT supported, SCIM through Okta supported\./);
  });

  it("the idp channel's failure, when no account appears, names the IdP, the protocol and what the manifest says", async () => {
    const h = await harness({ connectorsDir: dir, modules: [], profile: tenant('okta') });
    const [{ run }] = (await h.start('onboard', 'bob@acme.com', { app: 'kiosk' })) as [StartResult];
    await h.completeNext(run.id); // the assignment in Okta, by a person
    assert.equal((await h.run(run.id)).waitingFor, 'evidence:kiosk-create-user');
    h.clock.advance(25 * hour);
    await h.runtime.runs.settle();
    const failed = (await h.runtime.runs.timeline(run.id)).audit.find((a) => a.type === 'channel.failed' && a.data.channel === 'idp');
    assert.equal(failed?.data.detail, 'no evidence of a JIT account within 24 h on a first OpenID sign-in through Okta (Kiosk with Okta: OpenID Connect sign-in, JIT supported, SCIM through Okta supported)');
    // The person who takes over reads the same facts in the task's checklist.
    const task = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
    assert.equal(task.runbook, 'add-user');
    assert.ok(task.content.watchOutFor.some((w) => w.text.startsWith('Kiosk with Okta: OpenID Connect sign-in')));
  });
});
