import assert from 'node:assert/strict';
import path from 'node:path';
import { effectiveMatrix, meets } from '../../core/manifest/effective.js';
import { connectorsDir } from '../../core/paths.js';
import type { ConnectorManifest } from '../../core/schema/types/connector-manifest.js';
import { readJson } from '../support/fixtures.js';

const spendesk = readJson<ConnectorManifest>(path.join(connectorsDir, 'spendesk', 'manifest.json'));
const read = '/capabilities/userApi/read';

describe('effective capability matrix', () => {
  it('keeps a conditional capability for a tenant that meets the condition', () => {
    const matrix = effectiveMatrix(spendesk, { plan: 'enterprise', features: { 'api-access': true } });
    const fact = matrix.facts.get(read)!;
    assert.equal(fact.applies, true);
    assert.equal(fact.value, 'supported');
    assert.equal(fact.fact.confidence, 'disputed');
  });

  it('turns it into notSupported, with the reason, for a tenant on the wrong plan', () => {
    const fact = effectiveMatrix(spendesk, { plan: 'scale', features: { 'api-access': true } }).facts.get(read)!;
    assert.equal(fact.value, 'notSupported');
    assert.equal(fact.reason, 'needs plan Premium or Enterprise (tenant is on Scale)');
  });

  it('uses the manifest defaults for features the profile does not mention', () => {
    const matrix = effectiveMatrix(spendesk, { plan: 'premium' });
    assert.equal(matrix.state.features.get('api-access'), false);
    assert.equal(matrix.facts.get(read)!.reason, 'needs "Public API access granted" switched on');
  });

  it('says when the profile names no plan', () => {
    const { met, reason } = meets({ plans: ['premium'] }, { features: new Map() }, spendesk);
    assert.equal(met, false);
    assert.match(reason!, /the profile names no plan/);
  });

  it('leaves unconditional facts as the manifest states them, unknown included', () => {
    const matrix = effectiveMatrix(spendesk, {});
    assert.equal(matrix.facts.get('/capabilities/userApi/write')!.value, 'notSupported');
    assert.equal(matrix.facts.get('/capabilities/pagination/method')!.value, 'unknown');
    assert.equal(matrix.facts.get('/capabilities/pagination/method')!.applies, true);
  });

  it('covers facts inside lists', () => {
    const matrix = effectiveMatrix(spendesk, { plan: 'starter', features: { 'hr-sync': true } });
    assert.equal(matrix.facts.get('/capabilities/lifecycleSources/0/available')!.value, 'notSupported');
  });
});
