import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { runCli, scratchDir } from '../support/fixtures.js';

/** The README's own profile for the console sections: the demo tenant pointed at the simulator, Okta without an address. */
const P = 'test/fixtures/spendesk-console/tenant.json';
const idpExport = 'test/fixtures/spendesk-console/okta-assignments.csv';
/** The console robot's sign-in, unset: the README sets it by hand, a fresh shell does not have it. */
const noConsole = { SPENDESK_ADMIN_EMAIL: '', SPENDESK_ADMIN_PASSWORD: '' };

describe("the README's commands, with the README's profile", function () {
  this.timeout(90_000);

  for (const { args, says } of [
    { args: ['run', 'offboard', '--app', 'spendesk', '--user', 'a.b'], says: /^patchbay: command line#\/subject\/email: must be a valid email\n$/ },
    { args: ['run', 'offboard', '--app', 'nosuch', '--user', 'a@acme.com'], says: /^patchbay: command line#\/app: unknown connector 'nosuch'/ },
    { args: ['task', 'show', 'task-nope'], says: /^patchbay: unknown task 'task-nope'\n$/ },
    { args: ['reconcile', '--all', '--profile', P], says: /^patchbay: test\/fixtures\/spendesk-console\/tenant\.json#\/idp\/baseUrl: --all reads the IdP's assignments through its API, and the tenant profile gives no IdP address\n$/ },
    {
      args: ['reconcile', '--app', 'spendesk', '--profile', P, '--idp-from', idpExport, '--via', 'browser'],
      says: /^patchbay: tenant profile#\/apps\/spendesk\/secrets\/adminEmail: reading the spendesk console needs the robot's console sign-in: secret env:SPENDESK_ADMIN_EMAIL: .*; set it, or read an export with --from <file>\n$/,
    },
  ]) {
    it(`${args.join(' ')}: exit 2, one line, nothing written`, () => {
      const dataDir = scratchDir('patchbay-readme-');
      const result = runCli(['--data-dir', dataDir, ...args], noConsole);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, says);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.deepEqual(readdirSync(dataDir), [], 'no store was created');
    });
  }

  it('worker --watch-idp says where it works at once, before its first pass ends', async () => {
    const dataDir = scratchDir('patchbay-readme-');
    const child = spawn(process.execPath, [path.join(packageRoot, 'dist/core/cli/main.js'), '--data-dir', dataDir, 'worker', '--watch-idp', '--profile', P], { cwd: packageRoot, env: { ...process.env, PATCHBAY_CONNECTORS: '' } });
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no start line within 10 s: ${out}`)), 10_000);
        child.stderr.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) {
            clearTimeout(timer);
            resolve(out.split('\n')[0]!);
          }
        });
      });
      // Not a terminal: the worker logs JSON lines (core/logging/), its start line's message as before.
      const line = JSON.parse(first) as { level: string; role: string; msg: string };
      assert.equal(line.role, 'worker');
      assert.match(line.msg, /^patchbay worker: on .*, a pass every 5 s, the IdP's leavers every 60 s/);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
