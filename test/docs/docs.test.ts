import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServices } from '../../core/container.js';
import { factsOf } from '../../core/manifest/facts.js';
import { connectorsDir, docsDir } from '../../core/paths.js';
import { scratchDir } from '../support/fixtures.js';
import { renderConnectorPage } from '../../core/docs/connector-page.js';

// The committed pages are the package's own catalogue's, whatever folders PATCHBAY_CONNECTORS adds.
const { docs, registry } = createServices({ connectorsDir: [connectorsDir] });

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

  it('give Spendesk a page with what is known first, SSO per IdP, operations, runbooks and numbered sources', () => {
    const page = docs.render().get('connectors/spendesk.md')!;
    const headings = ['## What is known', '## Single sign-on per identity provider', '## Operations', '## Scenarios', '## Watch out for', '## Runbooks (human checklists)', '## Sources'];
    let at = 0;
    for (const heading of headings) {
      const found = page.indexOf(`\n${heading}\n`, at);
      assert.ok(found > at, `${heading} after the one before`);
      at = found;
    }
    assert.match(page, /\*\*Manual only, JIT via SAML\*\*/);
    // A disputed fact: each source's claim beside its numbered link.
    assert.match(page, /\| SSO: JIT provisioning \| yes \(with "SAML single sign-on switched on" on\) \| disputed \| \[\[\d+\]\]\(#source-\d+\) says yes: “[^”]+”<br>\[\[\d+\]\]\(#source-\d+\) says no: /);
    assert.match(page, /\| Okta \| SAML 2\.0 \| yes \| unknown \|/);
  });

  it('collapse what nobody documents into one line, and list each source once with the date it was read', () => {
    const page = docs.render().get('connectors/6sense.md')!;
    const known = page.slice(page.indexOf('## What is known'), page.indexOf('**Not documented:**'));
    assert.doesNotMatch(known, /\| unknown \|/, 'no unknown fact among the known ones');
    assert.match(page, /^\*\*Not documented:\*\* Authentication: method, User API: read users, SSO: protocols/m);
    const sources = page.slice(page.indexOf('## Sources'));
    const lines = sources.split('\n').filter((l) => /^\d+\. /.test(l));
    assert.equal(new Set(lines.map((l) => l.replace(/^\d+\. /, ''))).size, lines.length, 'no source listed twice');
    assert.ok(lines.every((l) => /, read \d{4}-\d{2}-\d{2}\)$/.test(l)), lines.join('\n'));
    assert.doesNotMatch(sources, /^\s+- /m, 'no list of quotes under the sources');
  });

  it("fit a manual-only or JIT-only app's page on one screen, its facts above the fold", () => {
    const apps = registry.list().filter((c) => ['manual-only', 'jit-only'].includes(c.manifest.automation.value) && !c.recipes.size);
    assert.ok(apps.length > 0);
    for (const { manifest } of apps) {
      const lines = renderedLines(docs.render().get(`connectors/${manifest.id}.md`)!);
      assert.ok(lines.length <= 45, `${manifest.id}: ${lines.length} rendered lines`);
      const facts = lines.findIndex((l) => l.startsWith('**Not documented:**') || l === '## Operations');
      assert.ok(facts >= 0 && facts < 40, `${manifest.id}: the known and unknown facts end at rendered line ${facts + 1}`);
    }
  });

  it('collapse identity providers nobody documents into the "not documented" line, and table the known ones', () => {
    const connector = registry.get('6sense');
    const bare = renderConnectorPage(connector, new Set());
    assert.match(notDocumentedLine(bare), /, SSO with Okta \/ Microsoft Entra ID \/ Google Workspace \/ OneLogin\.$/);
    assert.doesNotMatch(bare, /## Single sign-on per identity provider/);
    const manifest = structuredClone(connector.manifest);
    manifest.capabilities.sso.idps = {
      okta: { value: { protocols: ['SAML 2.0'], jit: 'supported', scim: 'notSupported' }, confidence: 'documented', checkedAt: '2026-11-30', sources: [{ url: 'https://example.com/okta', kind: 'vendor', says: 'Okta signs in over SAML.', readAt: '2026-11-30' }] },
      onelogin: { value: 'unknown', confidence: 'unknown', checkedAt: '2026-11-30' },
    };
    const page = renderConnectorPage({ ...connector, manifest }, new Set());
    assert.match(page, /\n\| Okta \| SAML 2\.0 \| yes \| notSupported \| documented \| \[\[\d+\]\]\(#source-\d+\): “Okta signs in over SAML\.” \|/);
    assert.doesNotMatch(page, /\| OneLogin \|/, 'an unknown IdP gets no row');
    assert.match(notDocumentedLine(page), /, SSO with Microsoft Entra ID \/ Google Workspace \/ OneLogin\.$/);
  });

  it('quote a source once when two facts rest on the same words, and link both to its number', () => {
    const connector = registry.get('6sense');
    const manifest = structuredClone(connector.manifest);
    const source = { url: 'https://example.com/help', kind: 'vendor' as const, says: 'Neither webhooks nor bulk import exist.', readAt: '2026-11-30' };
    manifest.capabilities.webhooks.available = { value: 'notSupported', confidence: 'documented', checkedAt: '2026-11-30', sources: [source] };
    manifest.capabilities.bulkImport.available = { value: 'notSupported', confidence: 'documented', checkedAt: '2026-11-30', sources: [{ ...source }] };
    const page = renderConnectorPage({ ...connector, manifest }, new Set());
    assert.equal(page.split(source.says).length - 1, 1, 'the words appear once');
    const n = /\[\[(\d+)\]\]\(#source-\d+\): “Neither webhooks/.exec(page)![1];
    assert.match(page, new RegExp(`\\| Bulk import: Available \\| no \\| documented \\| \\[\\[${n}\\]\\]\\(#source-${n}\\) \\|`));
    assert.equal(page.match(/<a id="source-/g)!.length, new Set(page.match(/<a id="source-\d+"/g)).size, 'each source listed once');
  });

  it('print a warning a scenario already shows only there, and the others under "Watch out for"', () => {
    const connector = registry.get('6sense');
    const manifest = structuredClone(connector.manifest);
    const scenarioOnly = manifest.scenarios![0]!.watchOutFor!;
    manifest.operations.deactivateUser!.watchOutFor = [...scenarioOnly.map((text) => ({ text })), { text: 'Export the leaver\'s saved lists first.' }];
    const page = renderConnectorPage({ ...connector, manifest }, new Set());
    const section = page.slice(page.indexOf('\n## Watch out for\n'), page.indexOf('\n## Runbooks'));
    assert.match(section, /- Export the leaver's saved lists first\. — `deactivateUser`/);
    for (const text of scenarioOnly) assert.ok(!section.includes(text) && page.includes(text), text);
  });

  it("show a SCIM route's request and what counts as done: PATCH active=false to deactivate, DELETE to delete", () => {
    const apps = registry.list().filter((c) => Object.values(c.manifest.operations).some((op) => op.channels[0]?.channel === 'scim'));
    assert.ok(apps.length > 0);
    for (const { manifest } of apps) {
      const page = docs.render().get(`connectors/${manifest.id}.md`)!;
      for (const [name, op] of Object.entries(manifest.operations).filter(([, op]) => op.channels[0]?.channel === 'scim')) {
        const row = page.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
        assert.ok(row, `${manifest.id}: ${name} has a row`);
        if (name === 'deactivateUser') assert.match(row, /^\| `deactivateUser` \| PATCH \(SCIM\) \| `\/Users\/\{id\}` \| active=false .*already done when active is false \| scim/, manifest.id);
        if (name === 'deleteUser') assert.match(row, /^\| `deleteUser` \| DELETE \(SCIM\) \| `\/Users\/\{id\}` \| .*404/, manifest.id);
        assert.doesNotMatch(row, /\| — \| — \|/, `${manifest.id}: ${name} says its request (${op.title})`);
      }
    }
  });

  it('say "documented as absent" for a fact the vendor says does not exist', () => {
    const connector = registry.get('6sense');
    const manifest = structuredClone(connector.manifest);
    manifest.capabilities.rateLimits.limits = { value: 'absent', confidence: 'third-party', checkedAt: '2026-11-28', sources: [{ url: 'https://example.com/limits', kind: 'third-party', says: 'No rate limits.', readAt: '2026-11-28' }] };
    const page = renderConnectorPage({ ...connector, manifest }, new Set());
    assert.match(page, /\| Rate limits: Limits \| documented as absent \| third-party \|/);
    assert.doesNotMatch(page.slice(page.indexOf('**Not documented:**')).split('\n')[0]!, /Rate limits/);
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

/** The first line of the "Not documented" paragraph. */
function notDocumentedLine(page: string): string {
  return page.slice(page.indexOf('**Not documented:**')).split('\n')[0]!;
}

/**
 * The lines a reader sees once the Markdown is rendered: no blank lines, no HTML comment, no table
 * delimiter rows; a table cell's <br> starts a new line. (Long cells also wrap on a narrow screen:
 * this counts the least a screen shows.)
 */
function renderedLines(markdown: string): string[] {
  return markdown
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('<!--') && !/^\|( ?-+ ?\|)+$/.test(l.trim()))
    .flatMap((l) => (l.startsWith('|') ? l.split('<br>') : [l]));
}
