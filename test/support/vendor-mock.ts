import nock from 'nock';

// nock intercepts as soon as it is imported; it stays off until a block asks for it.
nock.restore();

/**
 * nock for the vendors' APIs we cannot reach, for the duration of one describe block: no real
 * network except our own servers on 127.0.0.1, and nock fully removed afterwards (nock 15.0.0's
 * fetch interception otherwise breaks real POSTs with a body made later in the run).
 */
export function mockVendors(): void {
  before(() => {
    if (!nock.isActive()) nock.activate();
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterEach(() => nock.cleanAll());
  after(() => {
    nock.cleanAll();
    nock.enableNetConnect();
    nock.restore();
  });
}
