import assert from 'node:assert/strict';
import { createServices } from '../../core/container.js';
import { NotFoundError } from '../../core/errors.js';
import { planLifecycle } from '../../core/planning/planner.js';
import type { Plan, PlanStep } from '../../core/schema/types/plan.js';
import type { TenantProfile } from '../../core/schema/types/tenant-profile.js';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { readJson } from '../support/fixtures.js';

const services = createServices();

/** Plans against the demo tenant, changed by `tweak`; the profile goes through the same checks as a file would. */
function plan(playbook: string, tweak: (profile: TenantProfile & Record<string, any>) => void = () => {}, app = 'spendesk'): Plan {
  const profile = readJson<TenantProfile & Record<string, any>>(defaultProfileFile);
  tweak(profile);
  const checked = services.profiles.check(profile, 'tenant.json');
  const result = services.planner.plan({ playbook, app, subject: { email: 'alice@acme.com' } }, { profile: checked, file: 'tenant.json' });
  services.validator.validate('plan', result, 'plan');
  return result;
}
const step = (p: Plan, operation: string): PlanStep => {
  const found = p.steps.find((s) => s.operation === operation);
  assert.ok(found, `no ${operation} step in ${p.steps.map((s) => s.operation).join(', ')}`);
  return found;
};
const spendesk = (p: TenantProfile & Record<string, any>) => p.apps.spendesk!;

describe('planner', () => {
  describe('Spendesk offboarding for the demo tenant', () => {
    const p = plan('offboard');

    it('revokes the IdP assignment first, then clears the blockers, removes, verifies', () => {
      assert.deepEqual(
        p.steps.map((s) => `${s.app}.${s.operation}:${s.role}`),
        [
          'okta.unassignApp:idp',
          'spendesk.getUser:check',
          'spendesk.transferOwnership:precondition',
          'spendesk.reassignApprovals:precondition',
          'spendesk.transferSubscriptions:precondition',
          'spendesk.deactivateUser:action',
          'spendesk.getUser:verify',
        ],
      );
      assert.deepEqual(p.steps.map((s) => s.dependsOn), [[], ...p.steps.slice(0, -1).map((s) => [s.id])]);
    });

    it('removes the member by browser with a person behind it, and says why', () => {
      const remove = step(p, 'deactivateUser');
      assert.deepEqual(remove.channels, ['browser', 'human']);
      assert.match(remove.reason, /api out: writing through the API is not supported \(documented\)/);
      assert.match(remove.reason, /scim out: SCIM is not supported/);
      assert.match(remove.reason, /browser first: .*browser automation is allowed/);
      assert.match(remove.reason, /human if that fails/);
    });

    it('transfers owner roles only if held, and says it blocks removal', () => {
      const transfer = step(p, 'transferOwnership');
      assert.match(transfer.condition!, /Account Owner or Organisation Owner/);
      assert.ok(transfer.watchOutFor.some((w) => w.blocking && /cannot be removed until the role is transferred/.test(w.text)));
      assert.match(transfer.reason, /queue finance-admins/);
    });

    it('verifies by reading the console, since API access is not granted', () => {
      const verify = p.steps.find((s) => s.role === 'verify')!;
      assert.deepEqual(verify.channels, ['browser', 'human']);
      assert.equal(verify.chain[0]!.channel, 'api');
      assert.equal(verify.chain[0]!.usable, false);
      assert.match(verify.chain[0]!.reason, /needs "Public API access granted" switched on/);
      assert.match(verify.reason, /expect no account/);
    });

    it('does not name the UK rule for a tenant that is not in the UK', () => {
      assert.ok(step(p, 'transferSubscriptions').watchOutFor.every((w) => !/UK/.test(w.text)));
    });
  });

  it('with HR sync on, hands removal to the HR tool and blocks the manual removal', () => {
    const p = plan('offboard', (t) => (spendesk(t).features!['hr-sync'] = true));
    const handover = step(p, 'deactivateUser');
    assert.equal(handover.role, 'handover');
    assert.deepEqual(handover.channels, ['human']);
    assert.equal(handover.chain[0]!.runbook, 'deactivate-in-hr-tool');
    assert.match(handover.blocked!, /manual deactivateUser is refused while HR-tool sync manages the member/);
    assert.ok(handover.chain.slice(1).every((c) => !c.usable));
    assert.match(handover.reason, /cannot be removed by hand/);
  });

  it('with HR sync on but a plan without it, keeps the manual removal', () => {
    const p = plan('offboard', (t) => {
      spendesk(t).plan = 'enterprise';
      spendesk(t).features!['hr-sync'] = false;
    });
    assert.equal(step(p, 'deactivateUser').role, 'action');
  });

  it('with browser automation forbidden, sends everything to people', () => {
    const p = plan('offboard', (t) => (t.policies!.browserAutomation = 'forbidden'));
    assert.deepEqual(step(p, 'deactivateUser').channels, ['human']);
    assert.match(step(p, 'deactivateUser').reason, /browser skipped: browser automation is not allowed by the tenant's policy \(policies\.browserAutomation: forbidden\)/);
    assert.deepEqual(step(p, 'getUser').channels, ['human']);
  });

  it('an app-level browser setting overrides the tenant policy', () => {
    const p = plan('offboard', (t) => {
      t.policies!.browserAutomation = 'forbidden';
      spendesk(t).browserAutomation = 'allowed';
    });
    assert.deepEqual(step(p, 'deactivateUser').channels, ['browser', 'human']);
  });

  it('with API access granted and credentials referenced, verifies through the API', () => {
    const p = plan('offboard', (t) => {
      spendesk(t).features!['api-access'] = true;
      spendesk(t).secrets = { ...spendesk(t).secrets, apiClientId: 'env:SPENDESK_CLIENT_ID', apiClientSecret: 'env:SPENDESK_CLIENT_SECRET' };
    });
    const verify = p.steps.find((s) => s.role === 'verify')!;
    assert.deepEqual(verify.channels, ['api', 'browser', 'human']);
    assert.match(verify.reason, /api first: the API can read \(disputed: sources disagree\)/);
    // A machine can read, so the offboarding starts by checking the account is still there.
    const check = p.steps[1]!;
    assert.equal(check.role, 'check');
    assert.deepEqual(check.channels, ['api', 'browser']);
    assert.match(check.reason, /if the account is already gone, the remaining Spendesk steps are already done/);
    // Reading is all the API does: removal still goes through the console.
    assert.deepEqual(step(p, 'deactivateUser').channels, ['browser', 'human']);
  });

  it('checks through the console when no API can read, and adds no check when nothing can read by machine', () => {
    const check = plan('offboard').steps.find((s) => s.role === 'check')!;
    assert.deepEqual(check.channels, ['browser']);
    assert.equal(check.chain.find((c) => c.channel === 'human')!.usable, false);
    const forbidden = plan('offboard', (t) => (t.policies!.browserAutomation = 'forbidden'));
    assert.ok(forbidden.steps.every((s) => s.role !== 'check'));
  });

  it('carries the data test that decides each precondition from what the check read', () => {
    assert.deepEqual(step(plan('offboard'), 'transferOwnership').appliesWhen, { anyOf: [{ field: 'roles', includesAny: ['Account Owner', 'Organisation Owner'] }] });
  });

  it('with API access granted but no credentials, says which secret is missing', () => {
    const p = plan('offboard', (t) => (spendesk(t).features!['api-access'] = true));
    const api = step(p, 'getUser').chain.find((c) => c.channel === 'api')!;
    assert.equal(api.usable, false);
    assert.match(api.reason, /no secret reference for apiClientId, apiClientSecret/);
  });

  it('for a UK company, makes cancelling subscription cards a blocking precondition', () => {
    const p = plan('offboard', (t) => (spendesk(t).features!['uk-entity'] = true));
    assert.ok(step(p, 'transferSubscriptions').watchOutFor.some((w) => w.blocking && /UK companies cannot delete a member/.test(w.text)));
  });

  it('without an identity provider, skips the IdP step and says so', () => {
    const p = plan('offboard', (t) => delete t.idp);
    assert.equal(p.steps[0]!.role, 'check');
    assert.ok(p.notes.some((n) => /No identity provider in tenant 'acme': nothing to unassign there/.test(n)));
  });

  it('waits for an approval when the tenant asks for one', () => {
    assert.equal(plan('offboard').approval, false);
    assert.equal(plan('offboard', (t) => (t.policies!.approvalRequired = ['offboard'])).approval, true);
  });

  describe('Spendesk onboarding', () => {
    it('tries JIT through the IdP first, as disputed, then an invitation', () => {
      const create = step(plan('onboard'), 'createUser');
      assert.deepEqual(create.channels, ['idp', 'browser', 'human']);
      assert.match(create.chain[0]!.reason, /JIT on the first SAML sign-in through Okta \(disputed: sources disagree\); Spendesk with Okta: SAML 2\.0 sign-in, JIT supported, SCIM through Okta unknown \(not documented\); Patchbay waits for evidence/);
    });

    it('skips JIT when the tenant has not switched SSO on', () => {
      const create = step(plan('onboard', (t) => (spendesk(t).features!.sso = false)), 'createUser');
      assert.deepEqual(create.channels, ['browser', 'human']);
      assert.match(create.chain[0]!.reason, /JIT provisioning needs "SAML single sign-on switched on" switched on/);
    });

    it('sets role, teams and policy after creation, and expects an active account', () => {
      const p = plan('onboard');
      assert.deepEqual(p.steps.map((s) => s.operation), ['assignApp', 'createUser', 'setAccess', 'getUser']);
      assert.match(step(p, 'getUser').reason, /expect an active account/);
    });
  });

  it('plans a manual-only app with checklists only', () => {
    const p = plan('offboard', () => {}, 'amazinghiring');
    assert.deepEqual(p.steps.map((s) => [s.operation, s.channels]), [
      ['unassignApp', ['human']],
      ['deactivateUser', ['human']],
      ['getUser', ['human']],
    ]);
    assert.match(step(p, 'deactivateUser').reason, /api out: writing through the API is not supported \(third-party\)/);
  });

  it('plans a SCIM app over SCIM once the tenant configures it, with a person as fallback', () => {
    const unconfigured = plan('offboard', (t) => (t.apps.scim = {}), 'scim');
    assert.deepEqual(step(unconfigured, 'deactivateUser').channels, ['human']);
    assert.match(step(unconfigured, 'deactivateUser').reason, /no SCIM base URL in the tenant profile \(apps\.scim\.baseUrl\)/);
    // No machine can read the account, so a person confirms its status: absence is never assumed.
    assert.deepEqual(step(unconfigured, 'getUser').channels, ['human']);
    assert.equal(step(unconfigured, 'getUser').blocked, undefined);
    const configured = plan('offboard', (t) => (t.apps.scim = { baseUrl: 'https://scim.example.com/v2', secrets: { token: 'env:SCIM_TOKEN' } }), 'scim');
    assert.deepEqual(step(configured, 'deactivateUser').channels, ['scim', 'human']);
  });

  it('refuses a playbook the connector does not define, naming the ones it does', () => {
    assert.throws(
      () => plan('change', () => {}, 'amazinghiring'),
      (e: unknown) => e instanceof NotFoundError && /unknown playbook for AmazingHiring 'change' \(known: onboard, offboard\)/.test(e.message),
    );
  });

  it('plans an app of the catalogue the profile does not list, saying its plan and features are unknown', () => {
    const p = plan('offboard', (profile) => delete profile.apps.spendesk);
    assert.ok(p.notes.some((n) => /Spendesk has no entry in tenant 'acme''s profile: its plan is unknown and its features are unknown \(the manifest's defaults are assumed: api-access off/.test(n)), p.notes.join('\n'));
    assert.ok(p.notes.some((n) => /patchbay init --apps spendesk/.test(n)));
    // Without settings, the API (which needs secrets) is skipped with the reason; a person still can.
    const deactivate = p.steps.find((s) => s.operation === 'deactivateUser')!;
    assert.ok(deactivate.chain.some((c) => c.channel === 'human' && c.usable));
    assert.ok(deactivate.chain.some((c) => c.channel === 'browser' && !c.usable && /no admin console URL/.test(c.reason)));
  });

  it('is a pure function: same inputs, same plan, inputs untouched', () => {
    const { profile } = services.profiles.load();
    const context = services.planner.context('spendesk', { profile, file: defaultProfileFile });
    const request = { playbook: 'offboard' as const, app: 'spendesk', subject: { email: 'alice@acme.com' } };
    const before = JSON.stringify({ request, profile, manifest: context.app.connector.manifest });
    const first = planLifecycle(request, context);
    const second = planLifecycle(request, context);
    assert.deepEqual(first, second);
    assert.equal(JSON.stringify({ request, profile, manifest: context.app.connector.manifest }), before);
  });
});
