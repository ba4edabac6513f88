import assert from 'node:assert/strict';
import { createServices } from '../../core/container.js';
import type { Plan } from '../../core/schema/types/plan.js';
import type { TenantProfile } from '../../core/schema/types/tenant-profile.js';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { readJson } from '../support/fixtures.js';

const services = createServices();
const entra = { connector: 'entra-id', secrets: { tenantId: 'env:T', clientId: 'env:C', clientSecret: 'env:S' } };
const google = { connector: 'google-workspace', secrets: { serviceAccountKey: 'file:/etc/patchbay/key.json', adminEmail: 'env:GOOGLE_ADMIN' } };

/** Plans a Spendesk request for the demo tenant with another identity provider. */
function plan(playbook: string, idp: TenantProfile['idp'], idpAppId?: string): Plan {
  const profile = readJson<TenantProfile & Record<string, any>>(defaultProfileFile);
  profile.idp = idp;
  if (idpAppId) profile.apps.spendesk!.idpAppId = idpAppId;
  const checked = services.profiles.check(profile, 'tenant.json');
  const result = services.planner.plan({ playbook, app: 'spendesk', subject: { email: 'alice@acme.com' } }, { profile: checked, file: 'tenant.json' });
  services.validator.validate('plan', result, 'plan');
  return result;
}

describe("the planner speaks of the tenant's identity provider", () => {
  it('Entra ID: the unassignment is an Entra ID step through Graph, and says which sign-in stops', () => {
    const [first] = plan('offboard', entra, 'sp-spendesk').steps;
    assert.equal(first!.app, 'entra-id');
    assert.equal(first!.title, 'Remove the enterprise app assignment in Entra ID: Spendesk');
    assert.deepEqual(first!.channels, ['api', 'human']);
    assert.match(first!.reason, /^Unassign Spendesk in Microsoft Entra ID first, so that SAML sign-in through Microsoft Entra ID stops/);
  });

  it('Entra ID without its client credentials: the step goes to a person, saying which secrets are missing', () => {
    const [first] = plan('offboard', { connector: 'entra-id' }, 'sp-spendesk').steps;
    assert.deepEqual(first!.channels, ['human']);
    assert.match(first!.reason, /api skipped: no secret reference for tenantId, clientId, clientSecret in the tenant profile \(idp\.secrets\)/);
  });

  it("JIT through Entra ID uses the SAML both manifests list; Spendesk names Entra ID among its SSO IdPs, so no caveat", () => {
    const create = plan('onboard', entra, 'sp-spendesk').steps.find((s) => s.operation === 'createUser')!;
    assert.match(create.chain[0]!.reason, /^JIT on the first SAML sign-in through Microsoft Entra ID \(disputed: sources disagree\); Spendesk with Microsoft Entra ID: SAML 2\.0 sign-in, JIT supported, SCIM through Microsoft Entra ID unknown \(not documented\); Patchbay waits/);
    assert.doesNotMatch(create.chain[0]!.reason, /does not list/);
  });

  it('Google Workspace: the assignment is group membership; JIT says Spendesk does not document Google as an SSO IdP', () => {
    const p = plan('onboard', google, 'spendesk-users@acme.com');
    assert.equal(p.steps[0]!.title, 'Give access to the SAML app in Google Workspace (group membership): Spendesk');
    const create = p.steps.find((s) => s.operation === 'createUser')!;
    assert.match(create.chain[0]!.reason, /JIT on the first SAML sign-in through Google Workspace .*; Spendesk does not list Google Workspace among the identity providers its SSO is documented with \(Okta, OneLogin, Microsoft Entra ID\): protocol, JIT and SCIM through Google Workspace are unknown, so the generic SAML setup applies/);
  });
});
