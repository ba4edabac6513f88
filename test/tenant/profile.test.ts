import assert from 'node:assert/strict';
import { createServices } from '../../core/container.js';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { ConnectorWiringError, InvalidInputError } from '../../core/errors.js';
import { connectorsDir } from '../../core/paths.js';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { readJson, caught, editJson, scratchDir } from '../support/fixtures.js';

const { profiles } = createServices();
const demo = () => readJson(defaultProfileFile);

const refusal = (data: unknown) => caught(InvalidInputError, () => profiles.check(data, 'tenant.json'));

describe('tenant profiles', () => {
  it('load the embedded demo tenant by default', () => {
    const { profile, file } = profiles.load();
    assert.equal(profile.tenant, 'acme');
    assert.equal(file, defaultProfileFile);
    assert.equal(profile.apps.spendesk?.features?.sso, true);
  });

  it('refuse an app nobody has a connector for', () => {
    const profile = demo();
    profile.apps['no-such-app'] = {};
    const error = refusal(profile);
    assert.equal(error.message.split(': ')[0], 'tenant.json#/apps/no-such-app');
    assert.match(error.reason, /unknown connector 'no-such-app'/);
  });

  it('refuse a feature the manifest does not declare', () => {
    const profile = demo();
    profile.apps.spendesk.features.scim = true;
    assert.equal(refusal(profile).where.pointer, '/apps/spendesk/features/scim');
  });

  it('refuse a feature switched on for a plan that does not have it', () => {
    const profile = demo();
    profile.apps.spendesk.plan = 'starter';
    profile.apps.spendesk.features['api-access'] = true;
    const error = refusal(profile);
    assert.equal(error.where.pointer, '/apps/spendesk/features/api-access');
    assert.equal(error.reason, '"Public API access granted" is only available on Premium or Enterprise; the tenant is on Starter');
  });

  it('refuse an unknown plan', () => {
    const profile = demo();
    profile.apps.spendesk.plan = 'gold';
    assert.match(refusal(profile).reason, /unknown plan 'gold' for Spendesk \(plans: starter, scale, premium, enterprise\)/);
  });

  it('refuse an identity provider that is not one', () => {
    const profile = demo();
    profile.idp.connector = 'spendesk';
    assert.equal(refusal(profile).reason, "'spendesk' is not an identity provider");
  });

  it('refuse a queue that is not declared', () => {
    const profile = demo();
    profile.apps.spendesk.queue = 'helpdesk';
    assert.equal(refusal(profile).where.pointer, '/apps/spendesk/queue');
  });

  it('refuse a secret written in clear instead of a reference', () => {
    const profile = demo();
    profile.apps.spendesk.secrets.adminPassword = 'hunter2';
    const error = refusal(profile);
    assert.equal(error.where.pointer, '/apps/spendesk/secrets/adminPassword');
    assert.doesNotMatch(error.message, /hunter2/);
  });

  it('refuse an Okta address without a token reference, at load', () => {
    const profile = demo();
    profile.idp = { connector: 'okta', baseUrl: 'https://acme.okta.com' };
    const error = refusal(profile);
    assert.equal(error.where.pointer, '/idp/secrets/token');
    assert.match(error.reason, /is required with baseUrl: Okta's API needs token/);
  });

  it('refuse a SCIM base URL without a token, and a malformed base URL', () => {
    const profile = demo();
    profile.apps.scim = { baseUrl: 'https://app.example.com/scim/v2' };
    assert.equal(refusal(profile).where.pointer, '/apps/scim/secrets/token');
    profile.apps.scim = { baseUrl: 'app.example.com/scim', secrets: { token: 'env:T' } };
    const malformed = refusal(profile);
    assert.equal(malformed.where.pointer, '/apps/scim/baseUrl');
    assert.match(malformed.reason, /must be a valid uri/);
  });

  it('refuse a console, API or webhook address a browser or client would open unless it is http or https, naming the field', () => {
    const cases: [(p: any) => void, string][] = [
      [(p) => (p.apps.spendesk.consoleUrl = 'javascript:alert(document.cookie)'), '/apps/spendesk/consoleUrl'],
      [(p) => (p.apps.spendesk.baseUrl = 'file:///etc/passwd'), '/apps/spendesk/baseUrl'],
      [(p) => (p.idp.baseUrl = 'ftp://acme.okta.com'), '/idp/baseUrl'],
      [(p) => (p.notifications = { webhook: { url: 'data:text/html,hello' } }), '/notifications/webhook/url'],
      [(p) => (p.apps.spendesk.consoleUrl = 'https://'), '/apps/spendesk/consoleUrl'],
    ];
    for (const [change, pointer] of cases) {
      const profile = demo();
      change(profile);
      const error = refusal(profile);
      assert.equal(error.where.pointer, pointer);
      assert.match(error.message, new RegExp(`^tenant\\.json#${pointer}: must `));
    }
    const fine = demo();
    fine.apps.spendesk.consoleUrl = 'https://app.spendesk.com';
    fine.apps.spendesk.consoleUrl = 'http://127.0.0.1:4010';
    assert.equal(profiles.check(fine, 'tenant.json').apps.spendesk?.consoleUrl, 'http://127.0.0.1:4010');
  });

  it('refuse a queue member that is not an email, and an enumerated value outside its list, naming the field', () => {
    const profile = demo();
    profile.queues[1].members.push('not an email');
    const error = refusal(profile);
    assert.equal(error.where.pointer, `/queues/1/members/${profile.queues[1].members.length - 1}`);
    assert.equal(error.reason, 'must be a valid email');
    const policy = demo();
    policy.policies.browserAutomation = 'sometimes';
    assert.deepEqual([refusal(policy).where.pointer, refusal(policy).reason], ['/policies/browserAutomation', 'must be one of "allowed", "forbidden"']);
  });

  describe('with a broken connector in the catalogue', () => {
    /** The built-in catalogue plus 'tallyboard', whose manifest breaks its schema. */
    const withBroken = () => {
      const extra = scratchDir();
      cpSync(path.join(connectorsDir, '6sense'), path.join(extra, 'tallyboard'), { recursive: true });
      editJson(path.join(extra, 'tallyboard', 'manifest.json'), (m) => {
        m.id = 'tallyboard';
        m.kind = 'robot';
      });
      return createServices({ connectorsDir: [connectorsDir, extra] });
    };

    it('accept a profile naming it, plan the other apps, and refuse only it, with its one-line reason', () => {
      const services = withBroken();
      const profile = demo();
      profile.apps.tallyboard = {};
      const loaded = { profile: services.profiles.check(profile, 'tenant.json'), file: 'tenant.json' };
      const plan = services.planner.plan({ playbook: 'offboard', app: 'spendesk', subject: { email: 'a@acme.com' } }, loaded);
      assert.equal(plan.app, 'spendesk');
      const error = caught(ConnectorWiringError, () => services.planner.plan({ playbook: 'offboard', app: 'tallyboard', subject: { email: 'a@acme.com' } }, loaded));
      assert.match(error.message, /^connector 'tallyboard': is broken and was refused: \S*tallyboard[/\\]manifest\.json#\/kind: must be one of/);
      assert.doesNotMatch(error.message, /\n/);
      assert.equal(error.exitCode, 2);
    });

    it('still refuse an app nobody has a connector for, naming the broken ones too', () => {
      const services = withBroken();
      const profile = demo();
      profile.apps.tallybord = {};
      const error = caught(InvalidInputError, () => services.profiles.check(profile, 'tenant.json'));
      assert.equal(error.where.pointer, '/apps/tallybord');
      assert.match(error.reason, /^unknown connector 'tallybord' \(known: .*\); broken: tallyboard \(patchbay connectors says why\)$/);
    });
  });

  it('report every problem at once with problems(), each as file#pointer', () => {
    const profile = demo();
    profile.apps['no-such-app'] = {};
    profile.apps.spendesk.plan = 'platinum';
    profile.policies = { ...profile.policies, approvers: 'nobody' };
    const problems = profiles.problems(profile, 'tenant.json');
    assert.deepEqual(problems.map((p) => p.split(': ')[0]).sort(), ['tenant.json#/apps/no-such-app', 'tenant.json#/apps/spendesk/plan', 'tenant.json#/policies/approvers']);
    assert.equal(problems.length, 3);
    assert.deepEqual(profiles.problems(demo(), 'tenant.json'), []);
    const schema = profiles.problems({ tenant: 5, apps: { spendesk: { plan: 7 } } }, 'tenant.json');
    assert.ok(schema.length >= 2, schema.join('\n'));
    assert.ok(schema.every((p) => p.startsWith('tenant.json#')), schema.join('\n'));
  });
});
