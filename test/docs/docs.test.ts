import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServices } from '../../core/container.js';
import { factsOf } from '../../core/manifest/facts.js';
import { docsDir } from '../../core/paths.js';
import { scratchDir } from '../support/fixtures.js';

const { docs, registry } = createServices();

describe('generated docs', () => {
  it('the committed pages are what the generator writes (run npm run docs when this fails)', () => {
    assert.deepEqual(docs.stale(docsDir), []);
  });

  it('have a page per connector, the capability matrix and a page per schema', () => {
    const pages = [...docs.render().keys()];
    for (const { manifest } of registry.list()) assert.ok(pages.includes(`connectors/${manifest.id}.md`), manifest.id);
    assert.ok(pages.includes('capability-matrix.md'));
    for (const schema of ['connector-manifest', 'tenant-profile', 'lifecycle-request', 'plan', 'runbook', 'browser-recipe']) {
      assert.ok(pages.includes(`schemas/${schema}.md`), schema);
    }
  });

  for (const id of ['spendesk', 'okta', 'scim', '6sense']) {
    it(`cite every source and every confidence of ${id}'s facts`, () => {
      const page = docs.render().get(`connectors/${id}.md`)!;
      for (const { pointer, fact } of factsOf(registry.get(id).manifest)) {
        for (const source of fact.sources ?? []) {
          assert.ok(page.includes(`<${source.url}>`), `${pointer}: ${source.url} missing`);
          assert.ok(page.includes(source.says.replace(/\|/g, '\\|')), `${pointer}: "${source.says}" missing`);
        }
      }
    });
  }

  it('give Spendesk a page a Stitchflow reader recognises', () => {
    const page = docs.render().get('connectors/spendesk.md')!;
    for (const heading of ['## Quick reference', '## Authentication', '## User object', '## Rate limits', '## Pagination', '## Events', '## SCIM status', '## Scenarios', '## Watch out for', '## Runbooks (human checklists)', '## Sources']) {
      assert.ok(page.includes(`\n${heading}\n`), heading);
    }
    assert.match(page, /\*\*Manual only, JIT via SAML\*\*/);
    assert.match(page, /\| JIT provisioning \| yes \(with "SAML single sign-on switched on" on\) \| disputed \| 2026-11-28 \| \[\d+\] says yes, \[\d+\] says no \|/);
  });

  it('mark tenant-dependent facts and confidence in the matrix', () => {
    const matrix = docs.render().get('capability-matrix.md')!;
    assert.match(matrix, /\| \[Spendesk\]\(connectors\/spendesk\.md\) \| manual-only \(3p\) \| yes \(disputed\) † \| no \(doc\) \|/);
    assert.match(matrix, /\*\*Spendesk, User API read\*\*: on Premium or Enterprise, with "Public API access granted" on\./);
  });

  it('write pages, then find nothing stale, and remove a page nobody generates', () => {
    const out = scratchDir();
    const first = docs.write(out);
    assert.equal(first.written.length, docs.render().size);
    assert.deepEqual(docs.stale(out), []);
    writeFileSync(path.join(out, 'connectors', 'retired.md'), '# gone\n');
    writeFileSync(path.join(out, 'capability-matrix.md'), 'edited by hand\n');
    assert.deepEqual(docs.stale(out), ['capability-matrix.md', 'connectors/retired.md']);
    const second = docs.write(out);
    assert.deepEqual(second, { written: ['capability-matrix.md'], removed: ['connectors/retired.md'] });
    assert.equal(existsSync(path.join(out, 'connectors', 'retired.md')), false);
    assert.match(readFileSync(path.join(out, 'capability-matrix.md'), 'utf8'), /^<!-- Generated/);
  });
});
