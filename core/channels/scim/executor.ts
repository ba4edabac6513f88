import { inject, injectable } from '#inversify';
import { Suspend } from '../../engine/port.js';
import { ConnectorRegistry } from '../../registry/registry.js';
import type { OperationResult } from '../../registry/connector-api.js';
import { SecretResolver } from '../../tenant/secrets.js';
import type { ChannelExecutor, ChannelOutcome, StepExecution } from '../executor.js';
import { interpret } from '../outcome.js';
import { type KnownIdentifiers, noKnownIdentifiers } from '../proof.js';
import { ScimClient } from './client.js';
import { scimEndpoint } from './endpoint.js';

/**
 * The scim channel: drives any app's SCIM 2.0 endpoint from the tenant's settings, with no code
 * per app. Its calls read before they write, so that a repeated step is "already done"; they look
 * the person up by every identifier Patchbay knows, and prove absence before saying so.
 */
@injectable()
export class ScimChannelExecutor implements ChannelExecutor {
  readonly channel = 'scim' as const;
  private readonly clients = new Map<string, ScimClient>();

  constructor(
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
    @inject(SecretResolver) private readonly secrets: SecretResolver,
  ) {}

  async execute({ ctx, run, step, known }: StepExecution): Promise<ChannelOutcome> {
    let result: OperationResult;
    try {
      const settings = run.profile.apps[step.app] ?? {};
      // The manifest's SCIM address for this tenant when the profile gives none (an unresolvable one is left to the client to refuse).
      const endpoint = scimEndpoint(this.registry.get(step.app).manifest, settings);
      const client = this.client(step.app, 'url' in endpoint ? { ...settings, baseUrl: endpoint.url } : settings);
      result = await ctx.step(`${step.id}/scim`, () => this.call(client, step.operation, run.request.subject, known ?? noKnownIdentifiers), { external: true });
    } catch (error) {
      // A retry that waits longer than the engine waits in the process parks the run: that is no failure.
      if (error instanceof Suspend) throw error;
      return { status: 'failed', detail: (error as Error).message };
    }
    return interpret(step, run, this.registry, result, [{ kind: 'api', summary: result.evidence, at: await ctx.now() }]);
  }

  private call(client: ScimClient, operation: string, subject: { email: string; firstName?: string; lastName?: string }, known: KnownIdentifiers): Promise<OperationResult> {
    switch (operation) {
      case 'getUser':
        return client.getUser(subject.email, known);
      case 'listUsers':
        return client.listUsers();
      case 'createUser':
        return client.createUser(subject, known);
      case 'updateUser':
        return client.updateUser(subject, known);
      case 'deactivateUser':
        return client.deactivateUser(subject.email, known);
      case 'deleteUser':
        return client.deleteUser(subject.email, known);
      default:
        throw new Error(`the scim channel has no ${operation}`);
    }
  }

  private client(app: string, settings: ConstructorParameters<typeof ScimClient>[1]): ScimClient {
    const key = `${app}|${settings.baseUrl}|${settings.secrets?.token}`;
    let client = this.clients.get(key);
    if (!client) this.clients.set(key, (client = new ScimClient(app, settings, this.secrets)));
    return client;
  }
}
