import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { CatalogueCache } from '../../core/manifest/catalogue-cache.js';
import { FileManifestLoader } from '../../core/manifest/loader.js';
import { AjvSchemaValidator, type SchemaKind, type SchemaValidator } from '../../core/schema/validator.js';
import { caught, copyOfConnectors, editJson, scratchDir } from '../support/fixtures.js';

/** A validator that counts what it is asked to validate, by schema kind. */
class CountingValidator implements SchemaValidator {
  readonly calls = new Map<SchemaKind, number>();
  private readonly inner = new AjvSchemaValidator();
  validate<T>(kind: SchemaKind, data: unknown, file?: string): T {
    this.calls.set(kind, (this.calls.get(kind) ?? 0) + 1);
    return this.inner.validate<T>(kind, data, file);
  }
  problems(kind: SchemaKind, data: unknown) {
    return this.inner.problems(kind, data);
  }
  total(): number {
    return [...this.calls.values()].reduce((a, b) => a + b, 0);
  }
}

describe('catalogue cache', () => {
  let dir: string;
  beforeEach(() => (dir = path.join(copyOfConnectors(), 'spendesk')));

  it('validates a connector folder once: a second start reads the same connector without validating', () => {
    const first = new CountingValidator();
    const loaded = new FileManifestLoader(first).load(dir);
    assert.ok(first.total() > 0, 'the first load validates');
    const second = new CountingValidator();
    const again = new FileManifestLoader(second).load(dir);
    assert.equal(second.total(), 0, 'the second load validates nothing');
    assert.deepEqual(again.manifest, loaded.manifest);
    assert.deepEqual([...again.runbooks], [...loaded.runbooks]);
    assert.deepEqual([...again.recipes], [...loaded.recipes]);
    assert.equal(again.dir, dir);
  });

  it('checks a folder again when any of its files changes, and refuses what is now wrong', () => {
    new FileManifestLoader(new CountingValidator()).load(dir);
    editJson(path.join(dir, 'runbooks', 'remove-member.json'), (r) => (r.title = 'Remove {email} from Spendesk, now'));
    const validator = new CountingValidator();
    const changed = new FileManifestLoader(validator).load(dir);
    assert.ok(validator.total() > 0);
    assert.equal(changed.runbooks.get('remove-member')?.title, 'Remove {email} from Spendesk, now');

    editJson(path.join(dir, 'manifest.json'), (m) => (m.operations.deactivateUser.channels[1].runbook = 'remove-membre'));
    const error = caught(InvalidInputError, () => new FileManifestLoader(new CountingValidator()).load(dir));
    assert.equal(error.where.pointer, '/operations/deactivateUser/channels/1/runbook');
    // A refusal is never kept: it is worked out again, with its message, at every start.
    const again = caught(InvalidInputError, () => new FileManifestLoader(new CountingValidator()).load(dir));
    assert.equal(again.message, error.message);
  });

  it('notices a runbook added or removed', () => {
    new FileManifestLoader(new CountingValidator()).load(dir);
    const cache = new CatalogueCache();
    const before = cache.digest(dir);
    rmSync(path.join(dir, 'runbooks', 'remove-member.json'));
    assert.notEqual(cache.digest(dir), before);
    assert.throws(() => new FileManifestLoader(new CountingValidator()).load(dir), InvalidInputError);
  });

  it('checks the bytes it hashed: a file changed while a start checks it is never kept as the other version', () => {
    const runbook = path.join(dir, 'runbooks', 'remove-member.json');
    const good = readFileSync(runbook, 'utf8');
    const bad = JSON.stringify({ ...JSON.parse(good), zzz: true });
    writeFileSync(runbook, bad);
    // The file goes back to its good version while the manifest is being checked, before the runbooks are.
    class Swapping extends CountingValidator {
      override validate<T>(kind: SchemaKind, data: unknown, file?: string): T {
        if (kind === 'connector-manifest') writeFileSync(runbook, good);
        return super.validate<T>(kind, data, file);
      }
    }
    const refusal = caught(InvalidInputError, () => new FileManifestLoader(new Swapping()).load(dir));
    assert.equal(refusal.where.pointer, '/zzz', 'the version read and hashed is the one checked');
    writeFileSync(runbook, bad);
    assert.throws(() => new FileManifestLoader(new CountingValidator()).load(dir), InvalidInputError, 'nothing was kept for the bad version');
  });

  it('treats a damaged or foreign cache file as no cache', () => {
    const folder = path.join(scratchDir(), 'cache');
    const cache = new CatalogueCache(folder);
    const loaded = new FileManifestLoader(new CountingValidator()).load(dir);
    const digest = cache.digest(dir)!;
    cache.write(loaded, digest);
    assert.deepEqual(cache.read(dir, digest)?.manifest, loaded.manifest);
    assert.equal(cache.read(dir, 'another-digest'), undefined, 'an entry of other content is not used');
    const [file] = readdirSync(folder);
    writeFileSync(path.join(folder, file!), '{"digest": "');
    assert.equal(cache.read(dir, digest), undefined);
    writeFileSync(path.join(folder, file!), JSON.stringify({ digest, manifest: null, runbooks: [], recipes: [] }));
    assert.equal(cache.read(dir, digest), undefined, 'an entry of another shape is no entry');
  });

  it('keeps a bounded number of entries', () => {
    const folder = path.join(scratchDir(), 'cache');
    const cache = new CatalogueCache(folder);
    const loaded = new FileManifestLoader(new CountingValidator()).load(dir);
    for (let i = 0; i < 450; i++) cache.write({ ...loaded, dir: path.join(`${path.dirname(dir)}-${i}`, "spendesk") }, `d${i}`);
    const left = readdirSync(folder).length;
    assert.ok(left <= 400 && left >= 200, `${left} entries left`);
    assert.ok(cache.read(path.join(`${path.dirname(dir)}-449`, "spendesk"), "d449"), "the newest entry is kept");
  });
});
