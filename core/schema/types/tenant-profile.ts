/* Generated from schemas/tenant-profile.schema.json by `npm run types`. Do not edit: change the schema and regenerate. */

/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier = string;
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier1 = string;
/**
 * Where a secret lives, never the secret itself: env:NAME reads an environment variable, file:PATH a file.
 */
export type SecretRef = string;
/**
 * The identity provider's API address (Okta: https://<your-org>.okta.com).
 */
export type WebUrl = string;
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier2 = string;
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier3 = string;
/**
 * The admin console's address, for browser recipes.
 */
export type WebUrl1 = string;
/**
 * The API or SCIM base address, where it is tenant-specific.
 */
export type WebUrl2 = string;
/**
 * A lifecycle event: onboard (joiner), change (mover), offboard (leaver).
 */
export type PlaybookName = 'onboard' | 'change' | 'offboard';
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier4 = string;
/**
 * Receives a CloudEvent (structured JSON) for each run and task change: dev.patchbay.run.started, .run.completed, .run.failed, .run.cancelled, .run.awaiting-approval, .run.approved, .run.rejected, .task.opened, .task.completed, .task.failed, .task.reassigned, .task.escalated, .browser.drift, .browser.blocked.
 */
export type WebUrl3 = string;
/**
 * Where a secret lives, never the secret itself: env:NAME reads an environment variable, file:PATH a file.
 */
export type SecretRef1 = string;

/**
 * One customer's setup: the identity provider, the apps installed with their plan and switched-on features, the operator queues, the policies and where secrets live. The effective capability matrix is each manifest narrowed by this profile.
 */
export interface TenantProfile {
  $schema?: string;
  tenant: Identifier;
  name?: string;
  /**
   * The identity provider people sign in with.
   */
  idp?: {
    connector: Identifier1;
    secrets?: Secrets;
    baseUrl?: WebUrl;
  };
  /**
   * Installed apps, keyed by connector id.
   */
  apps: {
    [k: string]: AppSettings;
  };
  queues?: Queue[];
  policies?: {
    /**
     * Whether a robot may drive admin consoles; an app's own setting overrides it.
     */
    browserAutomation?: 'allowed' | 'forbidden';
    /**
     * Playbooks that wait for an approver before any step runs.
     */
    approvalRequired?: PlaybookName[];
    approvers?: Identifier4;
    /**
     * How many days an app's last audit (a reconciliation of its accounts, by any reader) may be old before the reconciliation report flags it; default 90. An app's own auditEveryDays overrides it.
     */
    auditEveryDays?: number;
  };
  /**
   * Where Patchbay tells other systems about run and task changes.
   */
  notifications?: {
    webhook?: {
      url: WebUrl3;
      secret?: SecretRef1;
    };
  };
}
export interface Secrets {
  [k: string]: SecretRef;
}
export interface AppSettings {
  plan?: Identifier2;
  /**
   * Switched-on (true) or off (false) features, by the manifest's feature ids.
   */
  features?: {
    [k: string]: boolean;
  };
  queue?: Identifier3;
  browserAutomation?: 'allowed' | 'forbidden';
  consoleUrl?: WebUrl1;
  baseUrl?: WebUrl2;
  secrets?: Secrets;
  /**
   * The app's id in the identity provider (Okta: 0oa…), for assignments and sign-in evidence.
   */
  idpAppId?: string;
  /**
   * This app's audit interval in days, over policies.auditEveryDays.
   */
  auditEveryDays?: number;
  /**
   * Non-secret, connector-specific settings: a manifest's surfaces name them in their URL templates ({settings.subdomain}) and browser recipes take them as parameters of type setting (contentOwner: who receives a leaver's content).
   */
  settings?: {
    [k: string]: string;
  };
}
export interface Queue {
  id: Identifier;
  name?: string;
  /**
   * Items: An operator's work email: tasks of the queue are theirs to complete.
   */
  members: string[];
  escalateTo?: Identifier;
}
