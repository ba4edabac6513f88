import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, scratchDir } from '../support/fixtures.js';

describe('patchbay reconcile --from an export', function () {
  // Each command is a process of its own, as an operator runs it.
  this.timeout(60_000);

  function setUp(members: string, name = 'members.csv') {
    const dir = scratchDir();
    const idp = path.join(dir, 'idp.csv');
    const from = path.join(dir, name);
    writeFileSync(idp, 'email\nann.demo@example.test\nben.demo@example.test\n');
    writeFileSync(from, members);
    const data = path.join(dir, 'data');
    const args = ['--data-dir', data, 'reconcile', '--app', 'spendesk', '--idp-from', idp, '--from', from];
    return { data, run: (...extra: string[]) => runCli([...args, ...extra]), runWith: (env: NodeJS.ProcessEnv) => runCli(args, env) };
  }

  it('reads a semicolon-delimited export with German headers: 2 matched, no findings', () => {
    const { run } = setUp('\uFEFFE-Mail;Name;Status\r\nann.demo@example.test;Demo, Ann;Aktiv\r\nben.demo@example.test;Demo, Ben;Aktiv\r\n', 'mitglieder.csv');
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /against 2 accounts \(\S*mitglieder\.csv\); 2 matched\.\nNo findings/);
  });

  it('leaves a row without an email unmatched and says the read is incomplete, naming its line', () => {
    const { run } = setUp('email,name\nann.demo@example.test,Ann\n,Ben (no email yet)\nben.demo@example.test,Ben\n');
    const result = run();
    assert.equal(result.status, 1, 'a read with a row left out is not a clean answer');
    assert.match(result.stdout, /^INCOMPLETE READ of spendesk: it closes no finding, is not an audit, and --remediate will not act on it\.\n {2}- app side \(\S*members\.csv\): \S*members\.csv line 3 \(row 3\): no email, userName or externalId; the row is left unmatched$/m);
    assert.match(result.stdout, /against 2 accounts .*; 2 matched\./);
    const refused = run('--remediate');
    assert.equal(refused.status, 1, 'nothing is remediated from a read with a row left out');
  });

  it('takes --header-row when a line above the header names a column, and refuses a bad row number', () => {
    const { run } = setUp('Filter,Value\nLogin,ends with example.test\n\nEmail,Status\nann.demo@example.test,Active\nben.demo@example.test,Active\n');
    const guessed = run();
    assert.match(guessed.stdout, /orphaned-account .* Email /, 'the filter row names a login column: taken for the header');
    const told = run('--header-row', '4');
    assert.equal(told.status, 0, told.stderr);
    assert.match(told.stdout, /against 2 accounts .*; 2 matched\.\nNo findings/);
    const bad = run('--header-row', 'three');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^patchbay: command line#\/header-row: --header-row wants a row number \(1 or more\), got "three"\n$/);
  });

  it('refuses an export over the row limit in one line, exit 2, and stores nothing', () => {
    const { runWith, data } = setUp(['email', 'ann.demo@example.test', 'ben.demo@example.test', 'cid.demo@example.test'].join('\n'));
    const refused = runWith({ PATCHBAY_MAX_FILE_ROWS: '2' });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /\npatchbay: \S*members\.csv: has more than 2 rows under its header, over the limit: refused \(raise it with PATCHBAY_MAX_FILE_ROWS=<rows>\)\n$/);
    assert.ok(!existsSync(data) || readdirSync(data).length === 0, 'nothing stored');
    const read = runWith({ PATCHBAY_MAX_FILE_ROWS: '3' });
    assert.equal(read.status, 0, read.stderr);
    assert.match(read.stdout, /against 3 accounts .*; 2 matched\./);
  });
});
