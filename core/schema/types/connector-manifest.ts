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
 * Every fact says how sure we are, where it comes from and when it was checked. Rules: unknown confidence goes with the value "unknown" and only with it; documented and third-party facts name at least one source; disputed facts name at least two sources that claim different values.
 */
export type Provenance = {
  confidence: Confidence;
  sources?: Source[];
  /**
   * When the sources were last read (YYYY-MM-DD).
   */
  checkedAt: string;
  /**
   * A short explanation for readers of the docs.
   */
  note?: string;
  requires?: Condition;
};
/**
 * How sure we are of a fact. documented: the vendor's own pages say so. third-party: only a third party says so. disputed: sources contradict each other. unknown: nobody says; never the same as notSupported.
 */
export type Confidence = 'documented' | 'third-party' | 'disputed' | 'unknown';
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier1 = string;
export type AuthFact = Provenance & AuthFact1;
/**
 * A count (page size, concurrent requests), with provenance.
 */
export type IntegerFact = Provenance & {
  value: number | UnknownValue;
};
/**
 * The value of a fact nobody documents.
 */
export type UnknownValue = 'unknown';
/**
 * A list of names (protocols, IdPs, events, headers), with provenance. An empty list is a documented "none".
 */
export type TextListFact = Provenance & {
  value: string[] | UnknownValue;
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
 * A piece of text (a URL, a plan name, a version), with provenance.
 */
export type TextFact = Provenance & {
  value: string;
};
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
  value: number | UnknownValue;
};
/**
 * A list of names (protocols, IdPs, events, headers), with provenance. An empty list is a documented "none".
 */
export type TextListFact1 = Provenance & {
  value: string[] | UnknownValue;
};
/**
 * Whether a capability is offered, with provenance.
 */
export type SupportFact4 = Provenance & {
  value: Support;
};
export type PaginationFact = Provenance & PaginationFact1;
/**
 * A piece of text (a URL, a plan name, a version), with provenance.
 */
export type TextFact1 = Provenance & {
  value: string;
};
/**
 * The documented request limits; an empty list is a documented "no limit".
 */
export type RateLimitFact = Provenance & RateLimitFact1;
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
 * A primitive verb in camelCase: listUsers, getUser, createUser, updateUser, deactivateUser, deleteUser, grant, revoke, or a connector-specific one such as transferOwnership.
 */
export type OperationName1 = string;
/**
 * A lifecycle event: onboard (joiner), change (mover), offboard (leaver).
 */
export type PlaybookName = 'onboard' | 'change' | 'offboard';

/**
 * What an app can do for the user lifecycle (its capability matrix, every fact with provenance) and how Patchbay reaches it: each operation's ordered chain of channels, its playbooks, runbooks, recipes and scenarios.
 */
export interface ConnectorManifest {
  $schema?: string;
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
   * The value this source supports, as text ("supported", "notSupported"); required on each source of a disputed fact, and they must differ.
   */
  claims?: string;
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
 * The capability matrix. Every leaf is a fact with provenance.
 */
export interface Capabilities {
  auth: {
    method: AuthFact;
    tokenLifetimeSeconds?: IntegerFact;
    scopes?: TextListFact;
  };
  userApi: {
    read: SupportFact;
    write: SupportFact;
    baseUrl?: TextFact;
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
    protocols: TextListFact;
    idps?: TextListFact;
    jit: SupportFact;
    jitCarries?: TextListFact1;
  };
  webhooks: {
    available: SupportFact;
    events?: TextListFact;
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
    headers?: TextListFact;
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
    columns?: TextListFact;
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
    | 'http-basic'
    | 'oauth2-client-credentials'
    | 'oauth2-authorization-code'
    | 'ssws-token'
    | 'unknown';
}
export interface PaginationFact1 {
  value: 'none' | 'cursor' | 'link-header' | 'offset' | 'page' | 'scim' | 'unknown';
}
export interface RateLimitFact1 {
  value: RateLimit[] | UnknownValue;
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
}
export interface UserFieldsFact1 {
  value: UserField[] | UnknownValue;
}
export interface UserField {
  field: string;
  type: string;
  required?: boolean;
  description?: string;
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
  systems?: TextListFact;
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
  when?: Condition1;
  /**
   * The app refuses the next step until this is dealt with.
   */
  blocking?: boolean;
  source?: string;
}
/**
 * Only for tenants that meet this condition.
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
export interface Playbook {
  /**
   * What the planner does in the identity provider first.
   */
  idp: 'assign' | 'unassign' | 'none';
  /**
   * @minItems 1
   */
  steps: [OperationName, ...OperationName[]];
  verify?: OperationName1;
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
