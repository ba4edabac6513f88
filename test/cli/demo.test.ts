import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { packageRoot } from '../../core/paths.js';
import { scratchDir } from '../support/fixtures.js';
import { FormClient } from '../support/server.js';

/** `patchbay [args] demo` on free ports; `ready` is true once its banner is out, false if it ended first. */
function startDemo(args: string[] = []) {
  const child = spawn(process.execPath, [path.join(packageRoot, 'dist', 'core', 'cli', 'main.js'), ...args, 'demo', '--port', '0', '--console-port', '0'], {
    env: { ...process.env, PATCHBAY_CONNECTORS: '', PATCHBAY_DATA_DIR: '' },
    cwd: packageRoot,
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  const ready = new Promise<boolean>((resolve) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('Ctrl-C stops the demo.')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  return { child, exited, ready, output: () => ({ stdout, stderr }) };
}

describe('patchbay demo', function () {
  this.timeout(60_000);

  it('starts the server and the console simulator, prints where and who, serves the inbox, and stops on SIGINT', async () => {
    const { child, exited, ready, output } = startDemo();
    if (!(await ready)) throw new Error(`the demo exited: ${output().stderr}`);
    const { stdout, stderr } = output();
    try {
      const inbox = /Task inbox\s+(http:\/\/127\.0\.0\.1:\d+)\/inbox/.exec(stdout)![1]!;
      const consoleUrl = /Spendesk console (http:\/\/127\.0\.0\.1:\d+) /.exec(stdout)![1]!;
      // The simulator's sign-in is printed, said to be a throwaway demo account, and works.
      const [, consoleEmail, consolePassword] = /^\s+sign in as (\S+) \/ (.+)$/m.exec(stdout)!;
      assert.match(stdout, /the simulator's throwaway demo account from its seed file, not a real Spendesk credential/);
      const signIn = await fetch(`${consoleUrl}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ email: consoleEmail!, password: consolePassword!, next: '/' }).toString() });
      assert.equal(signIn.status, 302, 'the printed console sign-in is accepted');
      // The first reconciliation says when it finished.
      assert.match(stderr, /reconciling the Spendesk console against the demo Okta export…\nreconciled in \d+\.\d s: 5 members, 2 findings \(http:\/\/127\.0\.0\.1:\d+\/reconcile\)\n/);
      const [, email, password] = /^\s+(it\.oncall@acme\.example)\s+(\S+)\s+\(operator\)$/m.exec(stdout)!;
      const client = new FormClient(inbox);
      await client.signIn(email!, password!);
      const page = await client.request('GET', '/inbox');
      assert.match(page.body, /Remove alice@acme\.com&#39;s Spendesk assignment in Okta/);
      const report = await client.request('GET', '/reconcile');
      assert.match(report.body, /alice@acme\.com is active in spendesk but not assigned in the IdP \([^)]*okta-assignments\.csv\)/);
      assert.match(report.body, /new\.joiner@acme\.com is assigned spendesk in the IdP but has no account there/);
      assert.match(report.body, /aria-label="Reconcile Spendesk now \(browser\)"/);
      // Alice's orphaned account is answered by the offboarding the demo started: the finding links to it.
      assert.match(report.body, /<td>alice@acme\.com<\/td>.*?<td>offboard <a href="\/runs\/run-\w+">run-\w+<\/a>: waiting<\/td>/);
      // The printed curl line deactivates Hugo through the SCIM bridge: his offboarding starts.
      const [, url, token, body] = /curl -X PATCH (\S+) -H 'Authorization: Bearer (\S+)' -H 'Content-Type: application\/scim\+json' -d '([^']+)'/.exec(stdout)!;
      const answer = await fetch(url!, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, body: body! });
      const user = (await answer.json()) as Record<string, any>;
      assert.equal(answer.status, 200, JSON.stringify(user));
      assert.equal(user.active, false);
      assert.equal(user['urn:ietf:params:scim:schemas:extension:patchbay:2.0:User'].operation, 'offboard');
      assert.match(user['urn:ietf:params:scim:schemas:extension:patchbay:2.0:User'].runId, /^run/);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, output().stderr);
  });

  it('starts again on the data folder of an earlier demo: the SCIM bridge user it made is found, not made twice', async () => {
    const dataDir = scratchDir('patchbay-demo-again-');
    const start = async () => {
      const { child, exited, ready, output } = startDemo(['--data-dir', dataDir]);
      // Ready (its banner), or ended: a demo that cannot start must end with its error, never stay up silent.
      const started = await ready;
      child.kill('SIGINT');
      return { ready: started, code: await exited, ...output() };
    };
    const hugoOf = (stdout: string) => /\/scim\/v2\/spendesk\/Users\/(\S+) -H/.exec(stdout)?.[1];
    const first = await start();
    assert.ok(first.ready, first.stderr);
    const again = await start();
    assert.ok(again.ready, again.stderr);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(hugoOf(again.stdout), hugoOf(first.stdout));
    assert.ok(hugoOf(first.stdout));
  });
});
