import { conformance } from '../support/conformance.js';
import { ScimServer } from '../support/scim-server.js';
import { OktaDouble, SpendeskDouble, type VendorDouble } from '../support/vendor-doubles.js';

/** Every connector with code passes the conformance kit, each against a stand-in for its vendor. */
conformance({
  connector: 'okta',
  double: () => new OktaDouble().listen(),
  settings: (d) => ({ baseUrl: d.url, secrets: { token: 'env:OKTA_API_TOKEN' } }),
  env: { OKTA_API_TOKEN: 'okta-token' },
  target: { app: 'spendesk', settings: { idpAppId: '0oa1spendesk' } },
});

conformance({
  connector: 'spendesk',
  double: () => new SpendeskDouble().listen(),
  settings: (d) => ({ baseUrl: d.url, secrets: { apiClientId: 'env:ID', apiClientSecret: 'env:SECRET' } }),
  env: { ID: 'id', SECRET: 'secret' },
});

conformance({
  connector: 'scim',
  double: async (): Promise<VendorDouble> => {
    const server = new ScimServer({ maxResults: 100 });
    const url = await server.listen();
    return {
      url,
      seed: (emails) => emails.forEach((e) => server.add(e)),
      rateLimitNext: (seconds) => server.rateLimitNext(seconds),
      isActive: (email) => [...server.users.values()].find((u) => u.userName === email)?.active,
      close: () => server.close(),
    };
  },
  settings: (d) => ({ baseUrl: d.url, secrets: { token: 'env:SCIM_TOKEN' } }),
  env: { SCIM_TOKEN: 'scim-token' },
});
