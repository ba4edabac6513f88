import assert from 'node:assert/strict';
import nock from 'nock';
import { OktaApi } from '../../../connectors/okta/api.js';
import { EnvironmentSecretResolver } from '../../../core/tenant/secrets.js';
import { mockVendors } from '../../support/vendor-mock.js';

const org = 'https://acme.okta.com';
const settings = { baseUrl: org, secrets: { token: 'env:OKTA_API_TOKEN' } };
const secrets = new EnvironmentSecretResolver({ OKTA_API_TOKEN: '00abcToken' });
const event = (uuid: string, eventType: string, login: string, result = 'SUCCESS') => ({ uuid, published: `2026-11-30T0${uuid.slice(-1)}:00:00.000Z`, eventType, outcome: { result }, target: [{ id: `00u${uuid}`, type: 'User', alternateId: login }] });

describe('Okta leaver feed: people who left Okta itself', () => {
  mockVendors();

  it('reads deactivations, suspensions and deletions from the System Log as person-wide events; a failed one is not a departure', async () => {
    nock(org)
      .get('/api/v1/logs')
      .query((q) => q.filter === 'eventType eq "user.lifecycle.deactivate" or eventType eq "user.lifecycle.suspend" or eventType eq "user.lifecycle.delete.initiated"' && q.since === '2026-11-30T00:00:00.000Z')
      .reply(200, [
        event('e1', 'user.lifecycle.deactivate', 'ann@acme.com'),
        event('e2', 'user.lifecycle.suspend', 'ben@acme.com'),
        event('e3', 'user.lifecycle.deactivate', 'cat@acme.com', 'FAILURE'),
        event('e4', 'user.lifecycle.delete.initiated', 'dan@acme.com'),
      ]);
    const left = await new OktaApi().leavers({ settings, secrets, since: Date.UTC(2026, 10, 30) });
    assert.deepEqual(left.map((e) => [e.email, e.type, e.scope]), [
      ['ann@acme.com', 'user.lifecycle.deactivate', 'person'],
      ['ben@acme.com', 'user.lifecycle.suspend', 'person'],
      ['dan@acme.com', 'user.lifecycle.delete.initiated', 'person'],
    ]);
  });

  it('with a target app, reads only removals from that app', async () => {
    nock(org)
      .get('/api/v1/logs')
      .query((q) => q.filter === 'eventType eq "application.user_membership.remove" and target.id eq "0oaX"')
      .reply(200, [{ uuid: 'e9', published: '2026-11-30T09:00:00.000Z', eventType: 'application.user_membership.remove', target: [{ id: '0oaX', type: 'AppInstance' }, { id: '00u9', type: 'User', alternateId: 'eve@acme.com' }] }]);
    const left = await new OktaApi().leavers({ settings, secrets, since: Date.UTC(2026, 10, 30), target: { app: 'spendesk', settings: { idpAppId: '0oaX' } } });
    assert.deepEqual(left.map((e) => [e.email, e.scope]), [['eve@acme.com', 'app']]);
  });
});
