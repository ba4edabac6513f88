import type { AppSettings } from '../schema/types/tenant-profile.js';
import type { SecretResolver } from '../tenant/secrets.js';
import type { KnownIdentifiers, Proof } from '../channels/proof.js';
import type { Completeness } from '../reconcile/snapshot.js';

/** An account as an app reports it, in the few words every app shares. */
export interface AppAccount {
  readonly id: string;
  readonly email: string;
  readonly active: boolean;
  readonly name?: string;
  readonly roles?: readonly string[];
  readonly groups?: readonly string[];
  /** Whatever else the app shows about the account (a console's member page), as text. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** What a handler is given: the person, the tenant's settings for the app, and a way to resolve secret references. */
export interface OperationInput {
  readonly subject: { readonly email: string };
  readonly settings: AppSettings;
  readonly secrets: SecretResolver;
  /** Derived from (run, step): the app may see the same call twice, never with a different key. */
  readonly idempotencyKey: string;
  readonly signal?: AbortSignal;
  /** For an identity provider's step: the app the run is about, and its settings (Okta needs its idpAppId). */
  readonly target?: { readonly app: string; readonly settings: AppSettings };
  /** For reads of events: only what happened since this time (epoch ms). */
  readonly since?: number;
  /** Every identifier Patchbay has seen for the person in this app (the account id recorded at onboarding, in a reconciliation or an earlier run; emails, userNames, externalIds). */
  readonly known?: KnownIdentifiers;
}

/**
 * done: the change happened (or the read succeeded); alreadyDone: nothing to do, said as such;
 * notFound: the person has no account. Failures are thrown as typed errors.
 * A list operation (listUsers, listAppUsers) says in `completeness` whether it read every page;
 * one that does not say is taken as complete.
 */
export type OperationResult =
  | { readonly outcome: 'done' | 'alreadyDone'; readonly evidence: string; readonly accounts?: readonly AppAccount[]; readonly completeness?: Completeness; readonly proof?: Proof }
  | {
      readonly outcome: 'notFound';
      readonly evidence: string;
      /**
       * How the handler knows: a notFound without a proof of absence (a lookup by id, or a scan of
       * a complete list) is never taken as "already done"; the step goes on to prove it, or to a person.
       */
      readonly proof?: Proof;
    };

export type OperationHandler = (input: OperationInput) => Promise<OperationResult>;

/**
 * Someone leaving, as the IdP recorded it: taken away from one app (`scope: 'app'`, Okta's
 * application.user_membership.remove) or gone from the IdP itself (`scope: 'person'`: deactivated,
 * suspended or deleted), which offboards them from every app the tenant has.
 */
export interface LeaverEvent {
  readonly email: string;
  /** When the IdP recorded it (ISO 8601). */
  readonly at: string;
  /** The IdP's id for the event: one event starts one offboarding, however often it is read. */
  readonly id: string;
  /** What happened, in the IdP's words (Okta: application.user_membership.remove, user.lifecycle.deactivate). */
  readonly type: string;
  /** One app (the `target` read) or the whole person; absent means one app. */
  readonly scope?: 'app' | 'person';
}

/**
 * The code half of a connector: the operations its manifest routes to the `api` channel.
 * A connector contributes one by binding it to this token in its ContainerModule.
 */
export const ConnectorApi = Symbol('ConnectorApi');
export interface ConnectorApi {
  readonly connector: string;
  readonly operations: Readonly<Record<string, OperationHandler>>;
  /** Secret names the module reads from the tenant's settings (apps.<id>.secrets); the planner skips the api channel when one is missing. */
  readonly requiredSecrets: readonly string[];
  /** Settings it cannot work without (baseUrl); the planner skips the api channel when one is missing. */
  readonly requiredSettings?: readonly ('baseUrl' | 'idpAppId')[];
  /**
   * An identity provider's feed of leavers since a time (`since`), oldest first: with a `target`,
   * the people removed from that app; without one, the people who left the IdP itself (each event
   * with scope 'person'). A connector that reads only app removals returns [] without a target.
   */
  readonly leavers?: (input: Omit<OperationInput, 'subject' | 'idempotencyKey'> & { readonly since: number }) => Promise<readonly LeaverEvent[]>;
}
