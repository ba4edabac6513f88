/* Generated from schemas/connector-manifest.schema.json by `npm run types`. Do not edit: change the schema and regenerate. */

/**
 * The connector's id; the folder under connectors/ has the same name.
 */
export type Identifier = string;
/**
 * How far the app can be automated at all, in one headline ("Manual only, JIT via SAML").
 */
export type Automation = Provenance & Automation1;
/**
 * Every fact says how sure we are, where it comes from and when each source was read. Rules: unknown confidence goes with the value "unknown" and only with it; the value "absent" (documented as absent) needs a source; documented, second-hand and third-party facts name at least one source; a disputed fact names sources that claim different values, or one source that contradicts itself (its claims list two values).
 */
export type Provenance = {
  confidence: Confidence;
  sources?: Source[];
  /**
   * When the fact as a whole was last reviewed (YYYY-MM-DD); each source has its own readAt.
   */
  checkedAt: string;
  /**
   * A short explanation for readers of the docs.
   */
  note?: string;
  requires?: Condition;
};
/**
 * How sure we are of a fact. documented: the vendor's own pages say so. second-hand: someone reports what the vendor said (a support answer quoted in a forum, a partner's page citing the vendor). third-party: only a third party says so. disputed: sources contradict each other, or one source contradicts itself. unknown: nobody says; never the same as notSupported or absent.
 */
export type Confidence = 'documented' | 'second-hand' | 'third-party' | 'disputed' | 'unknown';
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier1 = string;
/**
 * A URL template with provenance: {baseUrl} is the tenant's apps.<id>.baseUrl, {settings.name} one of its apps.<id>.settings.
 */
export type TemplateFact = Provenance & TemplateFact1;
/**
 * The ways a surface accepts credentials, in order of preference: the first whose secrets the tenant has is used.
 */
export type AuthMethodsFact = Provenance & AuthMethodsFact1;
/**
 * One way to authenticate. Secrets are named, never given: each *Secret is a key of the tenant's apps.<id>.secrets.
 */
export type AuthMethod = AuthMethod1 & AuthMethod1;
/**
 * bearer, custom-scheme, api-key, signed-jwt: the secret holding the token, key or private key.
 */
export type SecretName = string;
/**
 * The name of a secret in the tenant profile's secrets (token, apiClientSecret).
 */
export type SecretName1 = string;
/**
 * The name of a secret in the tenant profile's secrets (token, apiClientSecret).
 */
export type SecretName2 = string;
/**
 * The name of a secret in the tenant profile's secrets (token, apiClientSecret).
 */
export type SecretName3 = string;
/**
 * The value of a fact nobody documents.
 */
export type UnknownValue = 'unknown';
/**
 * The documented request limits, each entry with its own condition; "absent" is a documented "no limit".
 */
export type RateLimitFact = Provenance & RateLimitFact1;
/**
 * The value of a fact the vendor documents as absent ("there is no rate limit", "no SCIM endpoint"): said, not merely unknown.
 */
export type AbsentValue = 'absent';
/**
 * How lists are paged on this surface; entries with `endpoints` hold only there.
 */
export type SurfacePaginationFact = Provenance & SurfacePaginationFact1;
/**
 * Every scope the surface knows; operations name the ones they need.
 */
export type TextListFact = Provenance & {
  value: string[] | UnknownValue | AbsentValue;
};
export type AuthFact = Provenance & AuthFact1;
/**
 * A count (page size, concurrent requests), with provenance.
 */
export type IntegerFact = Provenance & {
  value: number | UnknownValue | AbsentValue;
};
/**
 * A list of names (protocols, IdPs, events, headers), with provenance. An empty list is a documented "none".
 */
export type TextListFact1 = Provenance & {
  value: string[] | UnknownValue | AbsentValue;
};
/**
 * Whether a capability is offered, with provenance.
 */
export type SupportFact = Provenance & {
  value: Support;
};
/**
 * Whether the app offers a capability. unknown is not notSupported: it means no source settles it.
 */
export type Support = 'supported' | 'notSupported' | 'unknown';
/**
 * A piece of text (a URL, a plan name, a version), with provenance. "absent": the vendor says there is none.
 */
export type TextFact = Provenance & {
  value: string;
};
/**
 * What the user API's users are: seats (people who sign in to the app) or the app's own end-user records (customers, candidates).
 */
export type ManagesFact = Provenance & ManagesFact1;
/**
 * What creating a user who already exists does.
 */
export type UpsertFact = Provenance & UpsertFact1;
/**
 * Whether a capability is offered, with provenance.
 */
export type SupportFact1 = Provenance & {
  value: Support;
};
/**
 * Whether a capability is offered, with provenance.
 */
export type SupportFact2 = Provenance & {
  value: Support;
};
/**
 * Whether a capability is offered, with provenance.
 */
export type SupportFact3 = Provenance & {
  value: Support;
};
/**
 * A count (page size, concurrent requests), with provenance.
 */
export type IntegerFact1 = Provenance & {
  value: number | UnknownValue | AbsentValue;
};
/**
 * What works with one identity provider.
 */
export type IdpSsoFact = Provenance & IdpSsoFact1;
/**
 * A list of names (protocols, IdPs, events, headers), with provenance. An empty list is a documented "none".
 */
export type TextListFact2 = Provenance & {
  value: string[] | UnknownValue | AbsentValue;
};
/**
 * Whether a capability is offered, with provenance.
 */
export type SupportFact4 = Provenance & {
  value: Support;
};
export type PaginationFact = Provenance & PaginationFact1;
/**
 * A piece of text (a URL, a plan name, a version), with provenance. "absent": the vendor says there is none.
 */
export type TextFact1 = Provenance & {
  value: string;
};
/**
 * The user object's fields.
 */
export type UserFieldsFact = Provenance & UserFieldsFact1;
/**
 * The app's roles and role-like permissions.
 */
export type RolesFact = Provenance & RolesFact1;
/**
 * Whether a capability is offered, with provenance.
 */
export type SupportFact5 = Provenance & {
  value: Support;
};
/**
 * Whether a capability is offered, with provenance.
 */
export type SupportFact6 = Provenance & {
  value: Support;
};
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier2 = string;
/**
 * A primitive verb in camelCase: listUsers, getUser, createUser, updateUser, deactivateUser, deleteUser, grant, revoke, or a connector-specific one such as transferOwnership.
 */
export type OperationName = string;
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier3 = string;
export type ChannelRoute = ChannelRoute1 & ChannelRoute1;
/**
 * How a step reaches the app: its own API, its SCIM endpoint, the identity provider (assignment, JIT on first sign-in, HR sync), browser automation, or a person with a checklist.
 */
export type ChannelName = 'api' | 'scim' | 'idp' | 'browser' | 'human';
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier4 = string;
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier5 = string;
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier6 = string;
/**
 * Where a {placeholder}'s value comes from: the person (/email), the account read earlier by `read` (/id), the tenant's settings for the app (/baseUrl, /settings/subdomain), or a constant.
 */
export type ParamBinding = ParamBinding1;
/**
 * An RFC 6901 JSON Pointer into a JSON document ("" is the whole document, /data/0/id one value; ~1 escapes /, ~0 escapes ~).
 */
export type JsonPointer = string;
/**
 * A primitive verb in camelCase: listUsers, getUser, createUser, updateUser, deactivateUser, deleteUser, grant, revoke, or a connector-specific one such as transferOwnership.
 */
export type OperationName1 = string;
/**
 * An RFC 6901 JSON Pointer into a JSON document ("" is the whole document, /data/0/id one value; ~1 escapes /, ~0 escapes ~).
 */
export type JsonPointer1 = string;
/**
 * How a list call continues. cursor: a body pointer sent back as a query parameter; next-link: a body pointer holding the next URL; link-header: RFC 8288 rel=next; offset / page: counted parameters, stopping at a short page; scim: startIndex/count to totalResults; none: one answer.
 */
export type PageSpec = PageSpec1;
/**
 * A list in the record: a pointer to an array of strings, or to an array of objects with `item` pointing to each one's name.
 */
export type ListMapping =
  | JsonPointer
  | {
      pointer: JsonPointer;
      item: JsonPointer;
    };
/**
 * A primitive verb in camelCase: listUsers, getUser, createUser, updateUser, deactivateUser, deleteUser, grant, revoke, or a connector-specific one such as transferOwnership.
 */
export type OperationName2 = string;
/**
 * A lifecycle event: onboard (joiner), change (mover), offboard (leaver).
 */
export type PlaybookName = 'onboard' | 'change' | 'offboard';

/**
 * What an app can do for the user lifecycle (its capability matrix, every fact with provenance) and how Patchbay reaches it: each operation's ordered chain of channels, its playbooks, runbooks, recipes and scenarios.
 */
export interface ConnectorManifest {
  $schema?: string;
  /**
   * The manifest format's version. Version 1 manifests are refused: `patchbay connectors migrate <dir>` rewrites them.
   */
  schemaVersion: 2;
  id: Identifier;
  /**
   * The app's name as its users know it.
   */
  name: string;
  /**
   * idp: an identity provider, where assignments and sign-ins happen. app: anything people get accounts in.
   */
  kind: 'app' | 'idp';
  /**
   * What the app is for (spend management, HR, ...).
   */
  category?: string;
  website?: string;
  /**
   * When a person last reviewed the whole manifest.
   */
  reviewedAt: string;
  automation: Automation;
  /**
   * Short paragraphs for the top of the connector's page.
   */
  summary?: string[];
  /**
   * What cannot be automated and why.
   */
  limitations?: string[];
  /**
   * The vendor's plan tiers, cheapest first; facts and features name them in `requires`.
   */
  plans?: Plan[];
  /**
   * Options that differ between tenants and that a tenant profile switches on or off (API access granted, HR sync, SSO, UK entity).
   */
  features?: TenantFeature[];
  /**
   * The app's machine interfaces (REST, SCIM, GraphQL) by id, each with its base URL, authentication, headers, rate limits and pagination. Operations routed to `api` name one in their `call`.
   */
  surfaces?: {
    [k: string]: Surface;
  };
  capabilities: Capabilities;
  /**
   * The operations this connector can carry out, keyed by name, each with its ordered chain of channels.
   */
  operations: {
    [k: string]: Operation;
  };
  /**
   * For each lifecycle event, the app's own steps in order. The planner adds the identity-provider step before them and a verification after.
   */
  playbooks?: {
    [k: string]: Playbook;
  };
  /**
   * The common stories (onboarding, offboarding, bulk) told step by step for the docs.
   */
  scenarios?: Scenario[];
}
/**
 * Where a fact comes from and what the source says.
 */
export interface Source {
  /**
   * The address of the page.
   */
  url: string;
  /**
   * The page's title.
   */
  title?: string;
  /**
   * vendor: the app's own help centre, developer portal or legal pages. third-party: anybody else.
   */
  kind: 'vendor' | 'third-party';
  /**
   * What the page says, quoted or summarised.
   */
  says: string;
  /**
   * The value this source supports, as text ("supported", "notSupported"); required on each source of a disputed fact. A list of two or more values: the source contradicts itself.
   */
  claims?: string | [string, string, ...string[]];
  /**
   * When this source was read (YYYY-MM-DD); each source has its own date.
   */
  readAt: string;
}
/**
 * The fact holds only for tenants that meet this condition (plan, switched-on features).
 */
export interface Condition {
  /**
   * @minItems 1
   */
  plans?: [Identifier1, ...Identifier1[]];
  /**
   * @minItems 1
   */
  features?: [Identifier1, ...Identifier1[]];
  /**
   * @minItems 1
   */
  notFeatures?: [Identifier1, ...Identifier1[]];
}
export interface Automation1 {
  value: 'api' | 'scim' | 'read-only-api' | 'jit-only' | 'manual-only' | 'unknown';
  headline: string;
}
export interface Plan {
  id: Identifier1;
  name: string;
}
export interface TenantFeature {
  id: Identifier1;
  title: string;
  description?: string;
  /**
   * Plans on which the feature can be switched on.
   */
  plans?: Identifier1[];
  /**
   * Assumed when a tenant profile does not say.
   */
  default: boolean;
}
/**
 * One machine interface of the app.
 */
export interface Surface {
  kind: 'rest' | 'scim' | 'graphql';
  title?: string;
  baseUrl: TemplateFact;
  auth: AuthMethodsFact;
  /**
   * Headers every request carries (an API version header).
   */
  headers?: {
    [k: string]: string;
  };
  rateLimits?: RateLimitFact;
  /**
   * Statuses that mean "rate limited" on this surface (default [429]). 403 and 503 count only with Retry-After or a spent window.
   *
   * @minItems 1
   */
  limitedStatuses?: [429 | 403 | 503, ...(429 | 403 | 503)[]];
  pagination?: SurfacePaginationFact;
  scopes?: TextListFact;
}
export interface TemplateFact1 {
  value: string;
}
export interface AuthMethodsFact1 {
  value: [AuthMethod, ...AuthMethod[]] | UnknownValue;
}
export interface AuthMethod1 {
  type:
    | 'bearer'
    | 'custom-scheme'
    | 'basic'
    | 'api-key'
    | 'oauth2-client-credentials'
    | 'oauth2-refresh-token'
    | 'signed-jwt';
  /**
   * custom-scheme: the word before the token (Token, SSWS).
   */
  scheme?: string;
  /**
   * api-key: where the key goes.
   */
  in?: 'header' | 'query';
  /**
   * api-key: the header or query parameter's name.
   */
  name?: string;
  secret?: SecretName;
  usernameSecret?: SecretName1;
  passwordSecret?: SecretName2;
  /**
   * OAuth2: the token endpoint (a template like baseUrl).
   */
  tokenUrl?: string;
  clientIdSecret?: SecretName1;
  clientSecretSecret?: SecretName1;
  refreshTokenSecret?: SecretName1;
  /**
   * OAuth2: send the client's id and secret as HTTP Basic rather than in the form.
   */
  basicClientAuth?: boolean;
  /**
   * oauth2-client-credentials: the grant_type sent to the token endpoint when the vendor names its own (Zoom's account_credentials); default client_credentials.
   */
  grantType?: string;
  scopes?: string[];
  /**
   * signed-jwt: how the assertion is signed.
   */
  algorithm?: 'RS256' | 'ES256' | 'HS256';
  issuerSecret?: SecretName3;
  note?: string;
}
export interface RateLimitFact1 {
  value: RateLimit[] | UnknownValue | AbsentValue;
}
export interface RateLimit {
  requests: number;
  perSeconds: number;
  /**
   * What the limit counts: per company, per token, per endpoint.
   */
  scope: string;
  /**
   * Which endpoints or clients.
   */
  appliesTo?: string;
  requires?: Condition1;
  note?: string;
}
/**
 * This entry holds only on these plans or with these features (a higher limit on Enterprise).
 */
export interface Condition1 {
  /**
   * @minItems 1
   */
  plans?: [Identifier1, ...Identifier1[]];
  /**
   * @minItems 1
   */
  features?: [Identifier1, ...Identifier1[]];
  /**
   * @minItems 1
   */
  notFeatures?: [Identifier1, ...Identifier1[]];
}
export interface SurfacePaginationFact1 {
  value: [PagingMethod, ...PagingMethod[]] | UnknownValue;
}
export interface PagingMethod {
  style: 'none' | 'cursor' | 'link-header' | 'next-link' | 'offset' | 'page' | 'scim' | 'graphql-cursor';
  /**
   * Paths this entry applies to; absent: every list.
   *
   * @minItems 1
   */
  endpoints?: [string, ...string[]];
  defaultPageSize?: number;
  maxPageSize?: number;
  /**
   * Where the next page is said (starting_after, Link rel=next, pageInfo.endCursor).
   */
  pointer?: string;
}
/**
 * The capability matrix. Every leaf is a fact with provenance.
 */
export interface Capabilities {
  auth: {
    method: AuthFact;
    tokenLifetimeSeconds?: IntegerFact;
    scopes?: TextListFact1;
  };
  userApi: {
    read: SupportFact;
    write: SupportFact;
    baseUrl?: TextFact;
    manages?: ManagesFact;
    upsert?: UpsertFact;
  };
  scim: {
    available: SupportFact;
    version?: TextFact;
    planRequired?: TextFact;
    endpoint?: TextFact;
    patch?: SupportFact1;
    filter?: SupportFact2;
    bulk?: SupportFact3;
    maxResults?: IntegerFact1;
  };
  sso: {
    protocols: TextListFact1;
    /**
     * Single sign-on per identity provider: the protocol, JIT, and whether SCIM provisioning goes through that IdP (its catalogue app).
     */
    idps?: {
      [k: string]: IdpSsoFact;
    };
    jit: SupportFact;
    jitCarries?: TextListFact2;
  };
  webhooks: {
    available: SupportFact;
    events?: TextListFact1;
    userEvents?: SupportFact4;
    signature?: TextFact;
  };
  pagination: {
    method: PaginationFact;
    defaultPageSize?: IntegerFact;
    maxPageSize?: IntegerFact;
    pointer?: TextFact1;
  };
  rateLimits: {
    limits: RateLimitFact;
    headers?: TextListFact1;
    retryAfter?: SupportFact;
    concurrency?: IntegerFact;
  };
  userObject?: UserFieldsFact;
  entitlements: {
    roles: RolesFact;
    groups?: SupportFact5;
    policies?: SupportFact6;
  };
  bulkImport: {
    available: SupportFact;
    format?: TextFact;
    columns?: TextListFact1;
  };
  /**
   * Systems other than Patchbay that can own the lifecycle (an HR tool's sync), and the operations they take over when switched on.
   */
  lifecycleSources?: LifecycleSource[];
  /**
   * Paths in the app's admin console, by what is found there.
   */
  adminConsole?: {
    [k: string]: TextFact;
  };
}
export interface AuthFact1 {
  value:
    | 'none'
    | 'bearer-token'
    | 'custom-scheme'
    | 'http-basic'
    | 'api-key'
    | 'oauth2-client-credentials'
    | 'oauth2-authorization-code'
    | 'oauth2-refresh-token'
    | 'signed-jwt'
    | 'ssws-token'
    | 'unknown';
}
export interface ManagesFact1 {
  value: 'seats' | 'end-users' | 'both' | 'unknown';
}
export interface UpsertFact1 {
  value: 'updates-existing' | 'conflict' | 'duplicates' | 'unknown';
}
export interface IdpSsoFact1 {
  value: IdpSso | UnknownValue;
}
export interface IdpSso {
  /**
   * Sign-in protocols with this IdP (SAML 2.0, OIDC); empty: no SSO with it.
   */
  protocols: string[];
  jit: Support;
  /**
   * Provisioning through this IdP's catalogue app.
   */
  scim: 'supported' | 'notSupported' | 'jit-only' | 'via-third-party' | 'unknown';
  /**
   * The IdP's catalogue entry (Okta Integration Network app, Entra gallery app).
   */
  listing?: string;
}
export interface PaginationFact1 {
  value: 'none' | 'cursor' | 'link-header' | 'next-link' | 'offset' | 'page' | 'scim' | 'graphql-cursor' | 'unknown';
}
export interface UserFieldsFact1 {
  value: UserField[] | UnknownValue;
}
export interface UserField {
  field: string;
  type: string;
  required?: boolean;
  description?: string;
  /**
   * Can be set when the user is created.
   */
  onCreate?: boolean;
  /**
   * Can be changed afterwards.
   */
  onUpdate?: boolean;
}
export interface RolesFact1 {
  value: Role[] | UnknownValue;
}
export interface Role {
  id: Identifier1;
  name: string;
  kind: 'role' | 'permission';
  /**
   * Only one person holds it; it must be transferred before its holder leaves.
   */
  exclusive?: boolean;
  /**
   * An admin can give it directly.
   */
  assignable?: boolean;
  /**
   * What a new account gets.
   */
  default?: boolean;
  description?: string;
}
export interface LifecycleSource {
  id: Identifier1;
  name: string;
  feature: Identifier2;
  systems?: TextListFact1;
  available: SupportFact;
  /**
   * Operations this source takes over when it is on; Patchbay then does not do them by hand.
   *
   * @minItems 1
   */
  owns: [OperationName, ...OperationName[]];
  runbook: Identifier3;
  /**
   * Why manual work is blocked while the source is on.
   */
  reason: string;
}
export interface Operation {
  title: string;
  description?: string;
  /**
   * read operations need a readable API, write operations a writable one.
   */
  access: 'read' | 'write';
  /**
   * Ordered: the planner takes the first channel the tenant can use and keeps the others as fallbacks.
   *
   * @minItems 1
   */
  channels: [ChannelRoute, ...ChannelRoute[]];
  appliesWhen?: AppliesWhen;
  /**
   * When the step is needed at all, said for the person or robot doing it ("only if the member holds an owner role").
   */
  condition?: string;
  watchOutFor?: WatchOut[];
}
export interface ChannelRoute1 {
  channel: ChannelName;
  runbook?: Identifier4;
  recipe?: Identifier5;
  /**
   * idp: what shows the step happened (a sign-in event, a read of the app).
   */
  evidence?: string;
  note?: string;
  /**
   * idp: how long to wait for evidence (JIT on first sign-in) before the next channel.
   */
  waitHours?: number;
  call?: ApiCall;
}
/**
 * api: the operation as a declared HTTP request (a connector module, when one implements it, wins).
 */
export interface ApiCall {
  surface?: Identifier6;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /**
   * Under the surface's base URL, with {name} placeholders.
   */
  path: string;
  params?: {
    [k: string]: ParamBinding;
  };
  query?: {
    [k: string]: string | number | boolean;
  };
  headers?: {
    [k: string]: string;
  };
  /**
   * A JSON template: a string that is exactly "{name}" takes the parameter's value as it is; other strings have placeholders replaced as text.
   */
  body?: {
    [k: string]: unknown;
  };
  /**
   * The OAuth scopes this operation needs.
   */
  scopes?: string[];
  read?: OperationName1;
  when?: WhenRule[];
  /**
   * Tests on the body of a 2xx answer, for APIs that report failures inside an HTTP 200 (Slack's {"ok": false, "error": "users_not_found"}). The first rule that holds decides: notFound or alreadyDone end the step so; failed raises an upstream error naming the value. On a list, a failed rule stops the walk instead of reading an empty page as the end.
   */
  answer?: AnswerRule[];
  /**
   * Status code to outcome. Unlisted 2xx answers are done; other statuses are errors (429 and the surface's limited statuses are waited for and retried).
   */
  outcomes?: {
    [k: string]: 'done' | 'alreadyDone' | 'notFound';
  };
  items?: JsonPointer1;
  page?: PageSpec;
  record?: RecordMapping;
}
export interface ParamBinding1 {
  from: 'subject' | 'account' | 'settings' | 'const';
  pointer?: JsonPointer;
  value?: string | number | boolean;
}
/**
 * A test on the account read first (`read`): when it holds, the call is not made and the step ends with `outcome`.
 */
export interface WhenRule {
  account: JsonPointer;
  equals?: string | number | boolean | null;
  /**
   * @minItems 1
   */
  in?: [string | number | boolean | null, ...(string | number | boolean | null)[]];
  /**
   * The list at `account` contains this value (a role already granted).
   */
  includes?: string;
  outcome: 'alreadyDone' | 'notFound';
}
/**
 * A test on a 2xx answer's body: the value at `pointer` equals `equals` or is one of `in`.
 */
export interface AnswerRule {
  pointer: JsonPointer;
  equals?: string | number | boolean | null;
  /**
   * @minItems 1
   */
  in?: [string | number | boolean | null, ...(string | number | boolean | null)[]];
  outcome: 'done' | 'alreadyDone' | 'notFound' | 'failed';
}
export interface PageSpec1 {
  style: 'none' | 'cursor' | 'next-link' | 'link-header' | 'offset' | 'page' | 'scim';
  items?: JsonPointer;
  cursor?: JsonPointer;
  param?: string;
  next?: JsonPointer;
  sizeParam?: string;
  pageSize?: number;
  start?: number;
  total?: JsonPointer;
}
/**
 * How one vendor record becomes an account: JSON Pointers (RFC 6901) into the record.
 */
export interface RecordMapping {
  id: JsonPointer;
  email: JsonPointer;
  name?: JsonPointer;
  /**
   * A pointer to a boolean, or to a value that means active when it is in `in`.
   */
  active:
    | JsonPointer
    | {
        pointer: JsonPointer;
        /**
         * @minItems 1
         */
        in: [string | number | boolean, ...(string | number | boolean)[]];
        /**
         * Values that mean deactivated (the stand-in uses the first).
         *
         * @minItems 1
         */
        inactive?: [string | number | boolean, ...(string | number | boolean)[]];
      };
  roles?: ListMapping;
  groups?: ListMapping;
  attributes?: {
    [k: string]: JsonPointer;
  };
}
/**
 * When a precondition step is needed, as a test on what the check step read of the account (a console's member page, an API record). When nothing was read, the step's condition is left to a person.
 */
export interface AppliesWhen {
  /**
   * @minItems 1
   */
  anyOf: [AttributeTest, ...AttributeTest[]];
}
export interface AttributeTest {
  /**
   * An attribute of the account as read.
   */
  field: string;
  /**
   * The attribute (a comma-separated list) names one of these.
   *
   * @minItems 1
   */
  includesAny?: [string, ...string[]];
  /**
   * The attribute, read as a number, is above this.
   */
  greaterThan?: number;
}
export interface WatchOut {
  text: string;
  when?: Condition2;
  /**
   * The app refuses the next step until this is dealt with.
   */
  blocking?: boolean;
  source?: string;
}
/**
 * Only for tenants that meet this condition.
 */
export interface Condition2 {
  /**
   * @minItems 1
   */
  plans?: [Identifier1, ...Identifier1[]];
  /**
   * @minItems 1
   */
  features?: [Identifier1, ...Identifier1[]];
  /**
   * @minItems 1
   */
  notFeatures?: [Identifier1, ...Identifier1[]];
}
export interface Playbook {
  /**
   * What the planner does in the identity provider first.
   */
  idp: 'assign' | 'unassign' | 'none';
  /**
   * @minItems 1
   */
  steps: [OperationName, ...OperationName[]];
  verify?: OperationName2;
  /**
   * What the verification expects to read: an active account, a deactivated one, none at all, or the requested access.
   */
  expect?: 'active' | 'inactive' | 'absent' | 'matches';
}
export interface Scenario {
  title: string;
  playbook?: PlaybookName;
  /**
   * @minItems 1
   */
  steps: [string, ...string[]];
  watchOutFor?: string[];
}
