import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { readJsonFile } from '../../core/schema/json-file.js';
import { AjvSchemaValidator, type SchemaKind, schemaCacheDir, schemaDigest, schemaKinds, warmSchemaCache } from '../../core/schema/validator.js';
import { connectorsDir } from '../../core/paths.js';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { readJson, scratchDir, caught } from '../support/fixtures.js';

const validator = new AjvSchemaValidator();
const spendesk = () => readJson(path.join(connectorsDir, 'spendesk', 'manifest.json'));

const rejection = (run: () => unknown) => caught(InvalidInputError, run);

describe('schemas', () => {
  it('accept every committed manifest, runbook, recipe and the default profile', () => {
    const documents: [string, SchemaKind][] = [[defaultProfileFile, 'tenant-profile']];
    for (const id of readdirSync(connectorsDir).filter((n) => existsSync(path.join(connectorsDir, n, 'manifest.json')))) {
      const dir = path.join(connectorsDir, id);
      documents.push([path.join(dir, 'manifest.json'), 'connector-manifest']);
      for (const [folder, kind] of [['runbooks', 'runbook'], ['recipes', 'browser-recipe']] as const) {
        if (!existsSync(path.join(dir, folder))) continue;
        for (const file of readdirSync(path.join(dir, folder))) documents.push([path.join(dir, folder, file), kind]);
      }
    }
    for (const [file, kind] of documents) validator.validate(kind, readJsonFile(file), file);
    assert.ok(documents.length > 30, `only ${documents.length} documents found`);
  });

  it('name the JSON pointer and the allowed values of a bad enum', () => {
    const manifest = spendesk();
    manifest.capabilities.sso.jit.confidence = 'probably';
    const error = rejection(() => validator.validate('connector-manifest', manifest, 'm.json'));
    assert.equal(error.where.pointer, '/capabilities/sso/jit/confidence');
    assert.match(error.message, /^m\.json#\/capabilities\/sso\/jit\/confidence: must be one of "documented", "second-hand", "third-party", "disputed", "unknown"$/);
  });

  it('point at a missing property by its own pointer', () => {
    const manifest = spendesk();
    delete manifest.capabilities.userApi.write;
    const error = rejection(() => validator.validate('connector-manifest', manifest, 'm.json'));
    assert.equal(error.message, 'm.json#/capabilities/userApi/write: is required');
  });

  it('refuse a property the schema does not know', () => {
    const manifest = spendesk();
    manifest.capabilities.scim.availble = manifest.capabilities.scim.available;
    const error = rejection(() => validator.validate('connector-manifest', manifest, 'm.json'));
    assert.equal(error.where.pointer, '/capabilities/scim/availble');
    assert.match(error.reason, /not allowed/);
  });

  it('say a JSON Pointer, a path and an address in words, not as their regular expressions', () => {
    const manifest = readJson(path.join(connectorsDir, 'zoom', 'manifest.json'));
    const route = manifest.operations.listUsers.channels.find((c: { call?: unknown }) => c.call);
    route.call.record.email = 'email';
    const error = rejection(() => validator.validate('connector-manifest', manifest, 'm.json'));
    assert.match(error.message, /#\/operations\/listUsers\/channels\/\d+\/call\/record\/email: must be a JSON Pointer: empty \(the whole document\) or starting with \//);
    assert.doesNotMatch(error.message, /\^\(/, 'no regular expression in the message');
  });

  it('list one problem for a bad source kind, not its fact\'s other properties as "not allowed"', () => {
    const manifest = readJson(path.join(connectorsDir, 'zoom', 'manifest.json'));
    manifest.automation.sources[0].kind = 'vendor-blog';
    assert.deepEqual(validator.problems('connector-manifest', manifest), [{ pointer: '/automation/sources/0/kind', reason: 'must be one of "vendor", "third-party"' }]);
  });

  it('say what each alternative wanted when a value matches none', () => {
    const manifest = spendesk();
    manifest.capabilities.rateLimits.concurrency.value = 'five';
    const error = rejection(() => validator.validate('connector-manifest', manifest, 'm.json'));
    assert.equal(error.where.pointer, '/capabilities/rateLimits/concurrency/value');
    assert.match(error.reason, /must be integer, or must be "unknown"/);
  });

  it('refuse a malformed email in a lifecycle request', () => {
    const error = rejection(() => validator.validate('lifecycle-request', { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@' } }, 'request'));
    assert.equal(error.message, 'request#/subject/email: must be a valid email');
  });

  it('refuse an unknown playbook', () => {
    const error = rejection(() => validator.validate('lifecycle-request', { playbook: 'fire', app: 'spendesk', subject: { email: 'a@b.co' } }));
    assert.equal(error.where.pointer, '/playbook');
  });

  it('ask a human route for a runbook and a browser route for a recipe', () => {
    const manifest = spendesk();
    delete manifest.operations.deactivateUser.channels[1].runbook;
    assert.equal(rejection(() => validator.validate('connector-manifest', manifest)).where.pointer, '/operations/deactivateUser/channels/1/runbook');
  });
});

describe('provenance rules in the schema', () => {
  it('refuse a known value with unknown confidence', () => {
    const manifest = spendesk();
    manifest.capabilities.userApi.write.confidence = 'unknown';
    const error = rejection(() => validator.validate('connector-manifest', manifest));
    assert.equal(error.where.pointer, '/capabilities/userApi/write/value');
    assert.match(error.reason, /must be "unknown"/);
  });

  it('refuse the value "unknown" with any confidence but unknown', () => {
    const manifest = spendesk();
    manifest.capabilities.pagination.method.confidence = 'documented';
    manifest.capabilities.pagination.method.sources = [{ url: 'https://example.com', kind: 'vendor', says: 'x' }];
    const error = rejection(() => validator.validate('connector-manifest', manifest));
    assert.equal(error.where.pointer, '/capabilities/pagination/method/confidence');
  });

  it('keep "unknown" and "notSupported" apart: nobody documenting a thing is not a "no"', () => {
    const manifest = spendesk();
    manifest.capabilities.webhooks.userEvents = { value: 'notSupported', confidence: 'unknown', checkedAt: '2026-11-28' };
    const error = rejection(() => validator.validate('connector-manifest', manifest));
    assert.equal(error.where.pointer, '/capabilities/webhooks/userEvents/value');
    assert.match(error.reason, /must be "unknown"/);
  });

  it('refuse a documented fact without sources', () => {
    const manifest = spendesk();
    delete manifest.capabilities.userApi.write.sources;
    assert.equal(rejection(() => validator.validate('connector-manifest', manifest)).where.pointer, '/capabilities/userApi/write/sources');
  });

  it('refuse a disputed fact with a single source', () => {
    const manifest = spendesk();
    manifest.capabilities.sso.jit.sources.pop();
    const error = rejection(() => validator.validate('connector-manifest', manifest));
    // One source is enough only when it contradicts itself (its claims list two values).
    assert.equal(error.where.pointer, '/capabilities/sso/jit/sources/0/claims');
    assert.match(error.reason, /must be array/);
  });

  it('accept a disputed fact whose one source contradicts itself', () => {
    const manifest = spendesk();
    manifest.capabilities.sso.jit.sources.pop();
    manifest.capabilities.sso.jit.sources[0].claims = ['supported', 'notSupported'];
    validator.validate('connector-manifest', manifest);
  });

  it('refuse a source without the date it was read', () => {
    const manifest = spendesk();
    delete manifest.capabilities.sso.jit.sources[0].readAt;
    assert.equal(rejection(() => validator.validate('connector-manifest', manifest)).where.pointer, '/capabilities/sso/jit/sources/0/readAt');
  });

  it('accept "absent" (documented as absent) only with a source, never with unknown confidence', () => {
    const manifest = spendesk();
    manifest.capabilities.scim.endpoint = { value: 'absent', confidence: 'unknown', checkedAt: '2026-11-28' };
    assert.match(rejection(() => validator.validate('connector-manifest', manifest)).where.pointer!, /^\/capabilities\/scim\/endpoint/);
    manifest.capabilities.scim.endpoint = { value: 'absent', confidence: 'documented', checkedAt: '2026-11-28', sources: [{ url: 'https://example.com', kind: 'vendor', says: 'no SCIM', readAt: '2026-11-28' }] };
    validator.validate('connector-manifest', manifest);
  });

  it('report every schema error at once through problems()', () => {
    const manifest = spendesk();
    delete manifest.name;
    manifest.kind = 'robot';
    delete manifest.capabilities.sso.jit.sources[0].readAt;
    const problems = validator.problems('connector-manifest', manifest).map((p) => p.pointer);
    assert.ok(problems.includes('/name'), problems.join(' '));
    assert.ok(problems.includes('/kind'), problems.join(' '));
    assert.ok(problems.includes('/capabilities/sso/jit/sources/0/readAt'), problems.join(' '));
  });

  it('refuse a fact without checkedAt', () => {
    const manifest = spendesk();
    delete manifest.capabilities.sso.jit.checkedAt;
    assert.equal(rejection(() => validator.validate('connector-manifest', manifest)).where.pointer, '/capabilities/sso/jit/checkedAt');
  });
});

describe('readJsonFile', () => {
  it('names the file, line and column of a syntax error', () => {
    const file = path.join(scratchDir(), 'broken.json');
    writeFileSync(file, '{\n  "a": 1,\n}\n');
    const error = rejection(() => readJsonFile(file));
    assert.match(error.message, /broken\.json: invalid JSON at line 3, column 1/);
  });

  it('finds the line and column of a trailing comma in a list, which Node reports without a position, in one line', () => {
    const file = path.join(scratchDir(), 'runbook.json');
    writeFileSync(file, '{\n  "title": "Remove",\n  "steps": ["one", "two",],\n  "evidence": []\n}\n');
    const error = rejection(() => readJsonFile(file));
    assert.match(error.message, /runbook\.json: invalid JSON at line 3, column 26 \(unexpected token '\]'\)$/);
    assert.equal(error.message.split('\n').length, 1, 'one line, not the whole text quoted');
  });

  it('says when the file does not exist', () => {
    assert.match(rejection(() => readJsonFile('/nonexistent/profile.json')).message, /profile\.json: no such file$/);
  });
});

describe('compiled validators', () => {
  const folder = () => path.join(schemaCacheDir, schemaDigest());

  it('are kept one file per schema kind, in a folder named by the schemas', () => {
    assert.ok(warmSchemaCache());
    assert.deepEqual(readdirSync(folder()).sort(), schemaKinds.map((k) => `${k}.cjs`).sort());
    assert.deepEqual(readdirSync(schemaCacheDir), [schemaDigest()], 'validators of earlier schemas are removed');
  });

  it('are written again when a file is damaged, and still refuse bad input', () => {
    const file = path.join(folder(), 'lifecycle-request.cjs');
    writeFileSync(file, 'module.exports = ');
    delete createRequire(import.meta.url).cache[file]; // as in a new process
    const validator = new AjvSchemaValidator();
    assert.throws(() => validator.validate('lifecycle-request', { playbook: 'offboard', app: 'spendesk', user: { email: 'not-an-email' } }), InvalidInputError);
    assert.match(readFileSync(file, 'utf8'), /validate/);
  });
});
