import assert from 'node:assert/strict';
import { ScimClient } from '../../../core/channels/scim/client.js';
import type { KnownIdentifiers } from '../../../core/channels/proof.js';
import { fold, noKnownIdentifiers, provesAbsence } from '../../../core/channels/proof.js';
import { EnvironmentSecretResolver } from '../../../core/tenant/secrets.js';
import { ScimServer, type ScimServerOptions } from '../../support/scim-server.js';

const secrets = new EnvironmentSecretResolver({ SCIM_TOKEN: 'scim-token' });
const known = (k: Partial<KnownIdentifiers>): KnownIdentifiers => ({ ...noKnownIdentifiers, ...k });

async function stand(options: ScimServerOptions = {}): Promise<{ scim: ScimServer; client: ScimClient }> {
  const scim = new ScimServer(options);
  const url = await scim.listen();
  after(() => scim.close());
  return { scim, client: new ScimClient('scim', { baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' } }, secrets) };
}

describe('SCIM lookups: what proves an account is there, or gone', () => {
  it('compares identifiers folded: NFKC and case (ß meets SS, full-width letters meet ASCII)', () => {
    assert.equal(fold('Carol.Case@Example.test'), 'carol.case@example.test');
    assert.equal(fold('STRASSE@x.test'), fold('straße@x.test'));
    assert.equal(fold('ａｌｉｃｅ@acme.com'), 'alice@acme.com');
  });

  it('finds by reading the list what a case-sensitive filter missed, and says the filter missed it', async () => {
    const { scim, client } = await stand({ quirks: { caseSensitiveFilter: true } });
    scim.add('Carol.Case@Example.test');
    const { user, proof } = await client.locate('carol.case@example.test');
    assert.equal(user?.userName, 'Carol.Case@Example.test');
    assert.deepEqual([proof.method, proof.finding, proof.accountsScanned, proof.complete], ['scan', 'present', 1, true]);
    assert.match(proof.notes!.join(' '), /the server's filter did not find Carol\.Case@Example\.test; reading the list did \(its filter compares differently, though \/Schemas says userName is not caseExact\)/);
  });

  it('proves absence by a complete scan, with what it tried and how many accounts it read', async () => {
    const { scim, client } = await stand({ maxResults: 3 });
    scim.seed(7);
    const result = await client.getUser('gone@acme.com', known({ emails: ['gone.old@acme.com'], externalIds: ['E-9'] }));
    assert.equal(result.outcome, 'notFound');
    assert.deepEqual(
      (({ method, finding, accountsScanned, complete, identifiersTried }) => ({ method, finding, accountsScanned, complete, identifiersTried }))(result.proof!),
      { method: 'scan', finding: 'absent', accountsScanned: 7, complete: true, identifiersTried: ['externalId E-9', 'userName gone@acme.com', 'userName gone.old@acme.com'] },
    );
    assert.ok(provesAbsence(result.proof));
  });

  it('does not prove absence from a list it could not read in full', async () => {
    const { scim, client } = await stand({ maxResults: 2, quirks: { ignoreStartIndex: true, caseSensitiveFilter: true } });
    scim.seed(3);
    scim.add('Late.Joiner@Acme.com');
    const result = await client.getUser('late.joiner@acme.com');
    assert.equal(result.outcome, 'notFound');
    assert.equal(result.proof!.finding, 'unproven');
    assert.equal(result.proof!.complete, false);
    assert.ok(!provesAbsence(result.proof));
    assert.match(result.proof!.notes!.join(' '), /ignores startIndex/);
  });

  it("takes a recorded id's SCIM 404 as proof that account is gone when the list cannot be read; a bare 404 (no such route) proves nothing", async () => {
    const scimError = await stand({ maxResults: 2, quirks: { ignoreStartIndex: true } });
    scimError.scim.seed(3);
    const gone = await scimError.client.getUser('ghost@acme.com', known({ ids: ['u-404'] }));
    assert.deepEqual([gone.outcome, gone.proof!.method, gone.proof!.finding], ['notFound', 'id', 'absent']);
    const bare = await stand({ maxResults: 2, quirks: { ignoreStartIndex: true, noGetById: true } });
    bare.scim.seed(3);
    const unknown = await bare.client.getUser('ghost@acme.com', known({ ids: ['u-404'] }));
    assert.deepEqual([unknown.outcome, unknown.proof!.finding], ['notFound', 'unproven']);
    assert.match(unknown.proof!.notes!.join(' '), /answered 404 without a SCIM Error body/);
  });

  it('finds a renamed account by its recorded id, and one known by externalId by the externalId filter', async () => {
    const { scim, client } = await stand();
    const renamed = scim.add('alice.martin@acme.com');
    const byId = await client.locate('alice@acme.com', known({ ids: [renamed.id] }));
    assert.deepEqual([byId.user?.id, byId.proof.method], [renamed.id, 'id']);
    const hr = scim.add('bo.new@acme.com', true, { externalId: 'E-5' });
    const byExternal = await client.locate('bo@acme.com', known({ externalIds: ['E-5'] }));
    assert.deepEqual([byExternal.user?.id, byExternal.proof.method], [hr.id, 'filter']);
    assert.ok(scim.log.some((l) => l.includes('externalId+eq') || l.includes('externalId%20eq')), scim.log.join('\n'));
  });
});
