import assert from 'node:assert/strict';
import { printJsonStreaming } from '../../core/cli/reconcile-command.js';

describe('reconcile --json for very large reconciliations', () => {
  const capture = (value: unknown) => {
    const writes: string[] = [];
    printJsonStreaming(value, (text) => void writes.push(text));
    return { text: writes.join(''), writes };
  };

  it('prints exactly what JSON.stringify(value, null, 2) prints, small or large', () => {
    const findings = Array.from({ length: 2500 }, (_, i) => ({ kind: 'orphaned-account', person: `p${i}@acme.com`, ageMs: i === 3 ? Number.POSITIVE_INFINITY : i, skipped: undefined, evidence: [{ saw: 'x' }] }));
    for (const value of [
      { completeness: { complete: false, reasons: ['r'] }, app: 'spendesk', findings, remediation: [], gone: undefined },
      { incomplete: [], reconciliations: [{ app: 'a', findings }, { app: 'b', findings: [] }], skipped: [] },
      { small: [1, 2, { a: null }], text: 'é "quoted"' },
      [],
    ]) {
      assert.equal(capture(value).text, `${JSON.stringify(value, null, 2)}\n`);
    }
  });

  it('writes in pieces of about a megabyte, never one string for the whole list', () => {
    const findings = Array.from({ length: 30_000 }, (_, i) => ({ kind: 'orphaned-account', person: `person${i}@acme.com`, detail: `person${i}@acme.com is active in spendesk but not assigned in the IdP (idp.csv)` }));
    const { text, writes } = capture({ findings });
    assert.ok(writes.length > 3, `${writes.length} writes`);
    assert.ok(writes.every((w) => w.length < 1_100_000));
    assert.equal(JSON.parse(text).findings.length, 30_000);
  });
});
