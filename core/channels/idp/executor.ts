import { inject, injectable } from '#inversify';
import { effectiveMatrix } from '../../manifest/effective.js';
import { describeIdpSso, idpSso, sharedProtocol } from '../../planning/idp-sso.js';
import { idpSettings } from '../../planning/service.js';
import { ConnectorRegistry } from '../../registry/registry.js';
import type { OperationResult } from '../../registry/connector-api.js';
import { SecretResolver } from '../../tenant/secrets.js';
import type { ChannelExecutor, ChannelOutcome, Evidence, StepExecution } from '../executor.js';

const hour = 3_600_000;
/** How often the identity provider's log is read while a JIT account is awaited. */
export const signInPollMs = 15 * 60_000;

/** Evidence that an account exists, sent to a waiting run (an IdP sign-in event, a read of the app, a person's word). */
export interface AccountEvidence {
  readonly by: string;
  readonly text: string;
  /** A file given with the word (a screenshot of the person signed in, an export), already kept with the run's evidence. */
  readonly file?: Evidence['file'];
}

/**
 * The idp channel for createUser: the account is made just in time on the first sign-in through
 * the tenant's identity provider (SAML, OIDC: whatever the app and the IdP share), if it is made at
 * all (for Spendesk that is disputed). So the step waits for evidence that the account exists: it
 * reads the IdP's sign-in log (Okta's System Log, Entra ID's sign-in logs, Google's SAML audit
 * events) for the person's sign-in to the app every 15 minutes when it can, takes evidence sent by a person or a system at any time, and when none
 * comes within the route's wait, fails over to the next channel.
 */
@injectable()
export class IdpChannelExecutor implements ChannelExecutor {
  readonly channel = 'idp' as const;

  constructor(
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
    @inject(SecretResolver) private readonly secrets: SecretResolver,
  ) {}

  async execute({ ctx, run, step, choice }: StepExecution): Promise<ChannelOutcome> {
    if (step.operation !== 'createUser') return { status: 'failed', detail: `the idp channel only creates accounts just in time, not ${step.operation}` };
    const waitHours = choice.waitHours ?? 24;
    const deadline = (await ctx.now()) + waitHours * hour;
    const idp = run.profile.idp?.connector;
    const api = idp ? this.registry.api(idp) : undefined;
    const findSignIn = api?.operations.findSignIn;
    const settings = idpSettings(run.profile);
    const how = this.jitWords(run.app, run.profile.apps[run.app], idp, settings);
    // Whichever IdP the tenant has: its module names the settings and secrets it cannot read without.
    const configured = !!api && api.requiredSecrets.every((name) => !!settings.secrets?.[name]) && (api.requiredSettings ?? []).every((name) => name === 'idpAppId' || !!settings[name]);
    const canPoll = !!findSignIn && configured && !!run.profile.apps[run.app]?.idpAppId;
    for (;;) {
      if (canPoll) {
        const found = await ctx.step(
          `${step.id}/idp/sign-in`,
          async (): Promise<OperationResult> => {
            try {
              return await findSignIn!({ subject: run.request.subject, settings, secrets: this.secrets, idempotencyKey: `${run.id}:${step.id}`, target: { app: run.app, settings: run.profile.apps[run.app]! }, since: run.createdAt });
            } catch (error) {
              return { outcome: 'notFound', evidence: `the sign-in log could not be read: ${(error as Error).message}` };
            }
          },
          { external: true },
        );
        if (found.outcome === 'done') {
          const evidence: Evidence = { kind: 'api', summary: found.evidence, by: idp, at: await ctx.now() };
          return { status: 'done', detail: `account exists, made just in time ${how.sign}: ${found.evidence}`, evidence: [evidence] };
        }
      }
      const left = deadline - (await ctx.now());
      if (left <= 0) return { status: 'failed', detail: `no evidence of a JIT account within ${waitHours} h ${how.sign} (${how.facts})` };
      const answer = await ctx.waitForSignal<AccountEvidence>(`evidence:${step.id}`, canPoll ? Math.min(signInPollMs, left) : left);
      if (!answer.timedOut) {
        const evidence: Evidence = { kind: 'signal', summary: answer.payload.text, by: answer.payload.by, at: await ctx.now(), ...(answer.payload.file ? { file: answer.payload.file } : {}) };
        return { status: 'done', detail: `account exists: ${answer.payload.text}`, evidence: [evidence] };
      }
    }
  }

  /**
   * How the account is expected to appear, in words, from what the app's manifest says for the
   * tenant's IdP (capabilities.sso.idps.<idp>): `sign` ("on a first SAML sign-in through Okta") and
   * `facts` (protocol, JIT and SCIM through that IdP, unknowns said as unknown).
   */
  private jitWords(app: string, appSettings: Parameters<typeof effectiveMatrix>[1], idp: string | undefined, idpSettings: Parameters<typeof effectiveMatrix>[1]): { sign: string; facts: string } {
    const manifest = this.registry.get(app).manifest;
    if (!idp) return { sign: 'on a first sign-in', facts: 'the tenant profile names no identity provider' };
    const idpManifest = this.registry.get(idp).manifest;
    const matrix = effectiveMatrix(manifest, appSettings);
    const sso = idpSso({ matrix, name: manifest.name }, { id: idp, name: idpManifest.name });
    return { sign: `on a first ${sharedProtocol(sso, matrix, effectiveMatrix(idpManifest, idpSettings))} sign-in through ${idpManifest.name}`, facts: describeIdpSso(sso) };
  }
}
