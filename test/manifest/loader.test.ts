import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { FileManifestLoader } from '../../core/manifest/loader.js';
import { connectorsDir } from '../../core/paths.js';
import { AjvSchemaValidator } from '../../core/schema/validator.js';
import { copyOfConnectors, editJson, caught } from '../support/fixtures.js';

const loader = new FileManifestLoader(new AjvSchemaValidator());

const refusal = (dir: string) => caught(InvalidInputError, () => loader.load(dir));

describe('manifest loader', () => {
  it('loads every connector with its runbooks and recipes', () => {
    const connectors = loader.loadAll(connectorsDir);
    const folders = readdirSync(connectorsDir).filter((id) => existsSync(path.join(connectorsDir, id, 'manifest.json'))).sort();
    assert.deepEqual(connectors.map((c) => c.manifest.id), folders);
    const spendesk = connectors.find((c) => c.manifest.id === 'spendesk')!;
    assert.equal(spendesk.runbooks.get('remove-member')?.title, 'Remove {email} from Spendesk');
    assert.equal(spendesk.recipes.get('remove-member')?.operation, 'deactivateUser');
  });

  describe('refuses, naming the file and pointer,', () => {
    let dir: string;
    beforeEach(() => (dir = path.join(copyOfConnectors(), 'spendesk')));
    const manifestFile = () => path.join(dir, 'manifest.json');

    it('a route to a runbook that does not exist', () => {
      editJson(manifestFile(), (m) => (m.operations.deactivateUser.channels[1].runbook = 'remove-membre'));
      const error = refusal(dir);
      assert.match(error.where.file!, /spendesk[/\\]manifest\.json$/);
      assert.equal(error.where.pointer, '/operations/deactivateUser/channels/1/runbook');
      assert.match(error.reason, /no runbook 'remove-membre' in runbooks\//);
    });

    it('a route to a recipe that does not exist', () => {
      rmSync(path.join(dir, 'recipes', 'remove-member.json'));
      assert.equal(refusal(dir).where.pointer, '/operations/deactivateUser/channels/0/recipe');
    });

    it('a manifest whose id is not its folder', () => {
      const moved = path.join(path.dirname(dir), 'spendesk2');
      renameSync(dir, moved);
      const error = refusal(moved);
      assert.equal(error.where.pointer, '/id');
      assert.match(error.reason, /must be 'spendesk2'/);
    });

    it('a condition naming a feature the manifest does not declare', () => {
      editJson(manifestFile(), (m) => (m.capabilities.userApi.read.requires.features = ['api-acess']));
      const error = refusal(dir);
      assert.equal(error.where.pointer, '/capabilities/userApi/read/requires/features/0');
      assert.match(error.reason, /unknown feature 'api-acess' \(declared: api-access, hr-sync, sso, uk-entity\)/);
    });

    it('a playbook step that is not an operation', () => {
      editJson(manifestFile(), (m) => m.playbooks.offboard.steps.push('shredAccount'));
      assert.equal(refusal(dir).where.pointer, '/playbooks/offboard/steps/4');
    });

    it('a verification that writes', () => {
      editJson(manifestFile(), (m) => (m.playbooks.offboard.verify = 'deactivateUser'));
      assert.match(refusal(dir).reason, /verification must read/);
    });

    it('the same channel twice in one chain', () => {
      editJson(manifestFile(), (m) => m.operations.setAccess.channels.push({ channel: 'human', runbook: 'set-access' }));
      assert.match(refusal(dir).reason, /named twice/);
    });

    it('a runbook whose id is not its file name', () => {
      editJson(path.join(dir, 'runbooks', 'remove-member.json'), (r) => (r.id = 'remove'));
      const error = refusal(dir);
      assert.match(error.where.file!, /remove-member\.json$/);
      assert.equal(error.where.pointer, '/id');
    });

    it('a recipe for an operation the manifest does not have', () => {
      editJson(path.join(dir, 'recipes', 'export-members.json'), (r) => (r.operation = 'exportEverything'));
      const error = refusal(dir);
      assert.match(error.where.file!, /export-members\.json$/);
      assert.equal(error.where.pointer, '/operation');
    });

    it('a broken provenance rule', () => {
      editJson(manifestFile(), (m) => (m.capabilities.sso.jit.sources[0].claims = 'notSupported'));
      assert.equal(refusal(dir).where.pointer, '/capabilities/sso/jit/sources');
    });

    it('a manifest that is not JSON', () => {
      writeFileSync(manifestFile(), '{ "id": "spendesk", }');
      assert.match(refusal(dir).message, /manifest\.json: invalid JSON at line 1/);
    });
  });

  describe('problems(), every problem of a folder at once,', () => {
    let dir: string;
    beforeEach(() => (dir = path.join(copyOfConnectors(), '6sense')));

    it("reports a broken runbook's own errors, all of them, and no false 'no runbook' for the others", () => {
      editJson(path.join(dir, 'runbooks', 'add-user.json'), (r) => {
        delete r.title;
        r.slaHours = 'soon';
      });
      const problems = loader.problems(dir);
      const runbook = problems.filter((p) => /runbooks[/\\]add-user\.json#/.test(p));
      assert.ok(runbook.some((p) => /#\/title: is required|#: .*title/.test(p)), problems.join('\n'));
      assert.ok(runbook.some((p) => /#\/slaHours: /.test(p)), problems.join('\n'));
      // The manifest's routes to add-user, confirm-user and remove-user all name files that exist.
      assert.deepEqual(problems.filter((p) => /no runbook/.test(p)), []);
      assert.equal(problems.length, runbook.length);
    });

    it('still reports a route to a runbook that has no file, next to a broken runbook', () => {
      editJson(path.join(dir, 'runbooks', 'add-user.json'), (r) => delete r.steps);
      editJson(path.join(dir, 'manifest.json'), (m) => (m.operations.deactivateUser.channels[0].runbook = 'gone'));
      const problems = loader.problems(dir);
      assert.ok(problems.some((p) => /add-user\.json#.*steps/.test(p)), problems.join('\n'));
      const missing = problems.filter((p) => /no runbook/.test(p));
      assert.equal(missing.length, 1, problems.join('\n'));
      assert.match(missing[0]!, /manifest\.json#\/operations\/deactivateUser\/channels\/0\/runbook: no runbook 'gone' in runbooks\/ \(found: add-user, confirm-user, remove-user\)/);
    });

    it("reports a runbook whose id is not its file's name", () => {
      editJson(path.join(dir, 'runbooks', 'add-user.json'), (r) => (r.id = 'add-someone'));
      assert.deepEqual(loader.problems(dir).map((p) => p.replace(/^.*runbooks[/\\]/, '')), ["add-user.json#/id: must be 'add-user', the file's name"]);
    });
  });
});
