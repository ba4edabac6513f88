import assert from 'node:assert/strict';
import { ScimRefusal } from '../../core/bridge/errors.js';
import { parseFilter } from '../../core/bridge/filter.js';
import { applyPatch } from '../../core/bridge/patch.js';

const refused = (fn: () => unknown, scimType: string, detail: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof ScimRefusal && e.status === 400 && e.scimType === scimType && detail.test(e.detail));

describe('SCIM bridge parsing: the eq filters IdPs send, and PatchOps in their dialects', () => {
  it('reads eq filters quoted (with JSON escapes) and unquoted, attribute names in any case, and nothing else', () => {
    assert.deepEqual(parseFilter('userName eq "a@b.com"'), { attribute: 'userName', value: 'a@b.com' });
    assert.deepEqual(parseFilter('  username   EQ   "x \\"y\\" z"  '), { attribute: 'userName', value: 'x "y" z' });
    assert.deepEqual(parseFilter('externalId eq 5f2c-11'), { attribute: 'externalId', value: '5f2c-11' });
    assert.deepEqual(parseFilter('emails[type eq "work"].value eq "a@b.com"'), { attribute: 'email', value: 'a@b.com' });
    assert.deepEqual(parseFilter('emails[ type eq work ].value eq "a@b.com"'), { attribute: 'email', value: 'a@b.com' });
    assert.deepEqual(parseFilter('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"'), { attribute: 'userName', value: 'a' });
    refused(() => parseFilter('userName ne "a"'), 'invalidFilter', /only the eq operator/);
    refused(() => parseFilter('displayName eq "a"'), 'invalidFilter', /filtering on displayName is not supported/);
    refused(() => parseFilter('userName eq "a" or userName eq "b"'), 'invalidFilter', /well-formed quoted string/);
    refused(() => parseFilter('userName eq a b'), 'invalidFilter', /one quoted string/);
    refused(() => parseFilter('userName eq "5'), 'invalidFilter', /well-formed/);
    refused(() => parseFilter('userName'), 'invalidFilter', /expected <attribute> eq <value>/);
    refused(() => parseFilter(`userName eq "${'a'.repeat(1001)}"`), 'invalidFilter', /longer than 1000/);
  });

  it('applies RFC ops and the IdPs’ forms without touching the input; refuses the whole PatchOp on one bad op', () => {
    const user = { userName: 'a@b.com', active: true, name: { givenName: 'A', familyName: 'B' }, emails: [{ type: 'work', value: 'a@b.com', primary: true }] };
    const op = (...Operations: unknown[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations });
    assert.equal(applyPatch(user, op({ op: 'Replace', path: 'active', value: 'False' })).active, false);
    assert.equal(applyPatch(user, op({ op: 'replace', value: { active: 'True' } })).active, true);
    assert.deepEqual(applyPatch(user, op({ op: 'replace', path: 'name.familyName', value: 'C' })).name, { givenName: 'A', familyName: 'C' });
    assert.deepEqual(applyPatch(user, op({ op: 'Add', path: 'emails[type eq "home"].value', value: 'a@home.com' })).emails, [...user.emails, { type: 'home', value: 'a@home.com' }]);
    assert.deepEqual(applyPatch(user, op({ op: 'replace', path: 'emails[type eq "work"].value', value: 'new@b.com' })).emails, [{ type: 'work', value: 'new@b.com', primary: true }]);
    assert.deepEqual(applyPatch(user, op({ op: 'remove', path: 'emails[type eq "work"]' })).emails, []);
    assert.equal((applyPatch(user, op({ op: 'add', path: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', value: 'Ops' })) as any)['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].department, 'Ops');
    assert.equal(user.active, true, 'the input is not changed');
    refused(() => applyPatch(user, op({ op: 'remove', path: 'userName' })), 'mutability', /Operations\/0: userName cannot be removed/);
    refused(() => applyPatch(user, op({ op: 'replace', path: 'id', value: 'x' })), 'mutability', /id is read-only/);
    refused(() => applyPatch(user, op({ op: 'replace', path: 'active', value: 'nope' })), 'invalidValue', /active must be true or false/);
    refused(() => applyPatch(user, op({ op: 'replace', path: 'a b', value: 1 })), 'invalidPath', /Operations\/0: the path "a b"/);
    refused(() => applyPatch(user, op({ op: 'remove' })), 'noTarget', /remove needs a path/);
    refused(() => applyPatch(user, op()), 'invalidSyntax', /non-empty Operations/);
    refused(() => applyPatch(user, op({ op: 'replace', value: 'x' })), 'invalidValue', /without a path the value must be an object/);
  });
});
