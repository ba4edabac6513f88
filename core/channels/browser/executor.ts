import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inject, injectable, optional } from '#inversify';
import { type RunContext, type RunRecord, StoreRunEngine, Suspend } from '../../engine/port.js';
import type { LoadedConnector } from '../../manifest/loader.js';
import type { AppAccount, OperationResult } from '../../registry/connector-api.js';
import { ConnectorRegistry } from '../../registry/registry.js';
import type { BrowserRecipe } from '../../schema/types/browser-recipe.js';
import type { LifecycleRequest } from '../../schema/types/lifecycle-request.js';
import type { PlanStep } from '../../schema/types/plan.js';
import { SecretResolver } from '../../tenant/secrets.js';
import type { AppSettings } from '../../schema/types/tenant-profile.js';
import { InvalidInputError } from '../../errors.js';
import { Logger, silentLogger } from '../../logging/logger.js';
import { EvidenceFiles } from '../evidence-files.js';
import type { ChannelExecutor, ChannelOutcome, Evidence, StepExecution } from '../executor.js';
import { interpret } from '../outcome.js';
import { type KnownIdentifiers, type Proof, describeProof, fold, noKnownIdentifiers } from '../proof.js';
import { BrowserHost } from './browser-host.js';
import { columnValue, fillImportTemplate } from './import-template.js';
import { type RecipeResult, recipeSessionKey, runRecipe } from './recipe-runner.js';

/** How long each recipe step may wait for the page (bound by the composition root). */
export const BrowserStepTimeout = Symbol('BrowserStepTimeout');

/** What the full members list said of the person, read by the connector's listing recipe to confirm a "not found". */
interface Confirmation {
  readonly finding: 'present' | 'absent' | 'unavailable';
  readonly detail: string;
  readonly evidence: Evidence[];
  readonly proof: Proof;
  readonly account?: AppAccount;
}

/** What a browser attempt leaves in the journal: no secret, no bytes (the files are kept as evidence). */
interface Attempt {
  readonly status: RecipeResult['status'];
  readonly detail: string;
  readonly step?: string;
  readonly evidence: Evidence[];
  /** For a blocked attempt: the lines the console showed when it refused. */
  readonly blockers?: readonly string[];
  /** For reads: the subject's account as the console lists it. */
  readonly account?: AppAccount | null;
  /** For bulk imports: the console's result per email (lower case). */
  readonly rows?: Record<string, string>;
}

/**
 * The browser channel: runs the step's recipe in a fresh context of the worker's one Chromium
 * (carrying the worker's signed-in console session where the recipe declares one),
 * keeps screenshots (and the page's HTML when it stops) as evidence, and says what happened in the
 * step's terms. Drift and blockers fail the channel, so the person who takes over gets the page.
 * For a batch of joiners, a recipe with `bulk` fills the app's import template once for the batch.
 */
@injectable()
export class BrowserChannelExecutor implements ChannelExecutor {
  readonly channel = 'browser' as const;

  constructor(
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
    @inject(SecretResolver) private readonly secrets: SecretResolver,
    @inject(BrowserHost) private readonly host: BrowserHost,
    @inject(EvidenceFiles) private readonly files: EvidenceFiles,
    @inject(StoreRunEngine) private readonly engine: StoreRunEngine,
    @inject(BrowserStepTimeout) private readonly stepTimeoutMs: number,
    @inject(Logger) @optional() private readonly log: Logger = silentLogger,
  ) {}

  async execute({ ctx, run, step, choice, pass, known }: StepExecution): Promise<ChannelOutcome> {
    const connector = this.registry.get(step.app);
    const recipe = connector.recipes.get(choice.recipe!);
    if (!recipe)
      return {
        status: 'failed',
        detail: `recipe ${choice.recipe} is gone from ${step.app}`,
      };
    const bulk = await this.bulkRecipe(connector, step, run);
    let attempt = await ctx.step(
      `${step.id}/browser/${pass}`,
      () => (bulk ? this.runBulk(ctx, run, step, bulk) : this.runOne(run, step, recipe, known ?? noKnownIdentifiers)),
      { external: true },
    );
    if (attempt.status === 'drift' || attempt.status === 'blocked' || attempt.status === 'unreachable') {
      await ctx.audit({
        type: `browser.${attempt.status}`,
        actor: 'patchbay',
        data: {
          step: step.id,
          recipe: (bulk ?? recipe).id,
          at: attempt.step ?? null,
          detail: attempt.detail,
        },
      });
      return {
        status: 'failed',
        detail: attempt.detail,
        evidence: attempt.evidence,
        ...(attempt.status === 'blocked' && attempt.blockers?.length ? { blockers: attempt.blockers } : {}),
      };
    }
    if (bulk) return this.bulkOutcome(run, attempt, bulk);
    // A recipe that found nobody (a search box that found nothing, a removal that says "already removed")
    // is not proof in the run's app: the full members list confirms it, or the step goes to a person.
    const sawNobody = recipe.reads ? !attempt.account : attempt.status === 'already-done';
    const confirmation =
      sawNobody && step.app === run.app
        ? await ctx.step(`${step.id}/browser/${pass}/confirm`, () => this.confirmFromListing(run, step, recipe, known ?? noKnownIdentifiers), { external: true })
        : undefined;
    if (!recipe.reads && confirmation) {
      const evidence = [...attempt.evidence, ...confirmation.evidence];
      if (confirmation.finding === 'absent') return { status: 'already-done', detail: `already done (${describeProof(confirmation.proof)}): ${attempt.detail}`, evidence, proof: confirmation.proof };
      return {
        status: 'failed',
        detail:
          confirmation.finding === 'present'
            ? `${recipe.id} found nobody ("${attempt.detail}"), but ${confirmation.detail}: the recipe cannot reach the member, so a person removes them`
            : `${recipe.id} found nobody ("${attempt.detail}"), and ${confirmation.detail}`,
        evidence,
        proof: confirmation.proof,
      };
    }
    if (recipe.reads) {
      const account = attempt.account ?? confirmation?.account;
      const proof = confirmation?.proof;
      const detail = confirmation ? `${attempt.detail}; ${confirmation.detail}` : attempt.detail;
      const result: OperationResult = account
        ? { outcome: 'done', evidence: detail, accounts: [account], ...(proof ? { proof } : {}) }
        : { outcome: 'notFound', evidence: detail, ...(proof ? { proof } : {}) };
      // What was read, field by field, kept as data beside the screenshots: the task pages and the API show it as such.
      const readOf: Evidence[] = account?.attributes ? [{ kind: 'read', summary: `what the browser read of ${account.email} (${recipe.id})`, at: await ctx.now(), read: account.attributes }] : [];
      attempt = { ...attempt, evidence: [...attempt.evidence, ...(confirmation?.evidence ?? []), ...readOf], ...(account ? { account } : {}) };
      return {
        ...interpret(step, run, this.registry, result, attempt.evidence),
        ...(attempt.account ? { account: attempt.account } : {}),
      };
    }
    return {
      status: attempt.status,
      detail: attempt.detail,
      evidence: attempt.evidence,
    };
  }

  /**
   * Reads the app's full members list with the connector's listing recipe (operation listUsers,
   * with `reads`) and looks for the person by every email and userName known, compared folded
   * (NFKC, case). The listing is the console's whole list, not a search: its absence is proof.
   * "unavailable" when there is no listing recipe or it could not run.
   */
  private async confirmFromListing(run: RunRecord, step: PlanStep, used: BrowserRecipe, known: KnownIdentifiers): Promise<Confirmation> {
    const at = Date.now();
    const listing = [...this.registry.get(step.app).recipes.values()].find((r) => r.operation === 'listUsers' && r.reads && r.id !== used.id);
    const names = [run.request.subject.email, ...known.emails, ...known.userNames];
    const tried = [`search ${run.request.subject.email} (${used.id})`, ...[...new Set(names.map(fold))].map((n) => `email ${n} in the members list`)];
    if (!listing) {
      const proof: Proof = { method: 'none', finding: 'unproven', identifiersTried: tried.slice(0, 1), at, notes: [`${step.app} has no listing recipe to read the full members list`] };
      return { finding: 'unavailable', detail: `nothing can confirm it: ${step.app} has no recipe that reads the full members list`, evidence: [], proof };
    }
    const params = this.params(run, step.app, listing, run.request, {}, known);
    if (typeof params === 'string') {
      const proof: Proof = { method: 'none', finding: 'unproven', identifiersTried: tried.slice(0, 1), at, notes: [params] };
      return { finding: 'unavailable', detail: `the members list could not be read: ${params}`, evidence: [], proof };
    }
    const result = await this.runRecipe(run, step, listing, params);
    if (result.attempt.status !== 'done') {
      const proof: Proof = { method: 'scan', finding: 'unproven', identifiersTried: tried, complete: false, at, notes: [result.attempt.detail] };
      return { finding: 'unavailable', detail: `the members list could not be read (${result.attempt.detail})`, evidence: result.attempt.evidence, proof };
    }
    const reads = listing.reads!;
    const records = result.records[reads.records] ?? [];
    const wanted = new Set(names.map(fold));
    const record = records.find((r) => wanted.has(fold(r[reads.email] ?? '')));
    const scanned = { identifiersTried: tried, accountsScanned: records.length, complete: true, at };
    if (!record) {
      const proof: Proof = { method: 'scan', finding: 'absent', ...scanned };
      return { finding: 'absent', detail: `confirmed from the full members list (${listing.id}): not among its ${records.length} members`, evidence: result.attempt.evidence.map((e, i) => (i === 0 ? { ...e, proof } : e)), proof };
    }
    const active = reads.activeField ? ((reads.activeValues as readonly string[] | undefined) ?? []).includes(record[reads.activeField] ?? '') : true;
    const account: AppAccount = { id: record[reads.email]!, email: record[reads.email]!, active, attributes: record };
    const proof: Proof = { method: 'scan', finding: active ? 'present' : 'inactive', ...scanned };
    return {
      finding: 'present',
      detail: `the full members list (${listing.id}) shows ${record[reads.email]}${reads.activeField ? ` (${reads.activeField}: ${record[reads.activeField]})` : ''}`,
      evidence: result.attempt.evidence.map((e, i) => (i === 0 ? { ...e, proof } : e)),
      proof,
      account,
    };
  }

  /**
   * The connector's bulk recipe for this operation, when the run is part of a batch big enough for it.
   * A batch's runs share playbook, app and tenant, hence their plans: counting them is enough here,
   * and their requests are read once, by the run that does the upload.
   */
  private async bulkRecipe(connector: LoadedConnector, step: PlanStep, run: RunRecord): Promise<BrowserRecipe | undefined> {
    if (!run.batchId || step.role !== 'action') return undefined;
    const recipe = [...connector.recipes.values()].find((r) => r.bulk && r.operation === step.operation);
    if (!recipe) return undefined;
    const { n } = await this.engine.db.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).where('batch_id', '=', run.batchId).executeTakeFirstOrThrow();
    return Number(n) >= (recipe.bulk!.minimum ?? 2) ? recipe : undefined;
  }

  private async runOne(run: RunRecord, step: PlanStep, recipe: BrowserRecipe, known: KnownIdentifiers): Promise<Attempt> {
    const params = this.params(run, step.app, recipe, run.request, {}, known);
    if (typeof params === 'string') return { status: 'blocked', detail: params, evidence: [] };
    const result = await this.runRecipe(run, step, recipe, params);
    if (result.attempt.status !== 'done' || !recipe.reads) return result.attempt;
    const { reads } = recipe;
    const wanted = run.request.subject.email.toLowerCase();
    const record = result.records[reads.records]?.find((r) => (r[reads.email] ?? '').toLowerCase() === wanted);
    const account: AppAccount | null = record
      ? {
          id: record[reads.email]!,
          email: record[reads.email]!,
          active: reads.activeField ? ((reads.activeValues as readonly string[] | undefined) ?? []).includes(record[reads.activeField] ?? '') : true,
          attributes: record,
        }
      : null;
    const listed = result.records[reads.records]?.length ?? 0;
    const detail = record
      ? `${recipe.title}: ${record[reads.email]} is listed${reads.activeField ? ` (${reads.activeField}: ${record[reads.activeField]})` : ''}`
      : `${recipe.title}: ${run.request.subject.email} is not among the ${listed} listed`;
    return { ...result.attempt, detail, account };
  }

  private async runBulk(ctx: RunContext, run: RunRecord, step: PlanStep, recipe: BrowserRecipe): Promise<Attempt> {
    const key = `${run.batchId}|${step.id}|${recipe.id}`;
    const done = await this.engine.db.selectFrom('bulk_jobs').select('result').where('key', '=', key).executeTakeFirst();
    if (done) return JSON.parse(done.result) as Attempt;
    const bulk = recipe.bulk!;
    const requests = (await this.engine.db.selectFrom('runs').select('request').where('batch_id', '=', run.batchId!).execute())
      .map((row) => JSON.parse(row.request) as LifecycleRequest)
      .sort((a, b) => a.subject.email.localeCompare(b.subject.email));
    const xlsx = await fillImportTemplate(bulk, requests);
    const at = await ctx.now();
    const template = this.files.keep(xlsx, {
      name: `${recipe.id}-${run.batchId}.xlsx`,
      kind: 'file',
      summary: `the filled import template: ${requests.length} rows (${bulk.columns.map((c) => c.header).join(', ')})`,
      at,
    });
    const folder = mkdtempSync(path.join(os.tmpdir(), 'patchbay-upload-'));
    const file = path.join(folder, `${recipe.id}.xlsx`);
    writeFileSync(file, xlsx);
    let attempt: Attempt;
    try {
      const params = this.params(run, step.app, recipe, run.request, {
        [bulk.file]: file,
      });
      if (typeof params === 'string') {
        attempt = { status: 'blocked', detail: params, evidence: [template] };
      } else {
        const result = await this.runRecipe(run, step, recipe, params);
        const rows = Object.fromEntries((result.records[bulk.results] ?? []).map((r) => [(r[bulk.email] ?? '').toLowerCase(), r[bulk.result] ?? '']));
        attempt = {
          ...result.attempt,
          evidence: [template, ...result.attempt.evidence],
          rows,
        };
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
    if (attempt.status === 'done')
      await this.engine.db.insertInto('bulk_jobs').values({ key, result: JSON.stringify(attempt), created_at: at }).onConflict((oc) => oc.column('key').doNothing()).execute();
    return attempt;
  }

  private bulkOutcome(run: RunRecord, attempt: Attempt, recipe: BrowserRecipe): ChannelOutcome {
    const email = run.request.subject.email;
    const answer = attempt.rows?.[email.toLowerCase()];
    const bulk = recipe.bulk!;
    if (answer === undefined)
      return {
        status: 'failed',
        detail: `the import's results do not list ${email}`,
        evidence: attempt.evidence,
      };
    if (bulk.done.includes(answer))
      return {
        status: 'done',
        detail: `imported with the batch's template: ${email} → ${answer}`,
        evidence: attempt.evidence,
      };
    if (bulk.alreadyDone?.includes(answer))
      return {
        status: 'already-done',
        detail: `the console says: ${answer} (${email})`,
        evidence: attempt.evidence,
      };
    return {
      status: 'failed',
      detail: `the console refused ${email} in the import: ${answer}`,
      evidence: attempt.evidence,
    };
  }

  private async runRecipe(run: RunRecord, step: PlanStep, recipe: BrowserRecipe, params: Record<string, string | undefined>) {
    const consoleUrl = run.profile.apps[step.app]?.consoleUrl!;
    // The worker's signed-in session is carried into the job's fresh context where the recipe allows it.
    const session = recipeSessionKey(recipe, consoleUrl, params);
    const job = this.log.child({ runId: run.id, stepId: step.id, tenant: run.tenant, app: step.app, channel: 'browser', recipe: recipe.id });
    const asked = Date.now();
    let began = asked;
    const result = await this.host.withContext(
      async (context, handle) => {
        // The process is stopping and this job had waited for a context: nothing was done yet, so the run
        // goes to another process now rather than after every queued job of this one (SIGTERM is bounded).
        if (this.engine.handingOver) throw new Suspend('another process (handed over at a stop)', this.engine.clock.now());
        // Started once a browser context is free (--concurrency): the wait is said apart from the job's own time.
        began = Date.now();
        job.info({ waitedMs: began - asked }, 'browser job started');
        return runRecipe(context, {
          recipe,
          consoleUrl,
          params,
          stepTimeoutMs: this.stepTimeoutMs,
          ...(handle ? { session: handle } : {}),
        });
      },
      session ? { session } : {},
    ).catch((error: unknown) => {
      job.error({ durationMs: Date.now() - began, error: (error as Error)?.message ?? String(error) }, 'browser job ended: it threw');
      throw error;
    });
    job.info({ durationMs: Date.now() - began, status: result.status }, 'browser job ended');
    const at = Date.now();
    const evidence = result.shots.map((shot, i) =>
      this.files.keep(shot.png, {
        name: `${recipe.id}-${i + 1}.png`,
        kind: 'screenshot',
        summary: `screenshot at "${shot.step}" (${recipe.id})`,
        at,
      }),
    );
    const stopped = 'step' in result ? result : undefined;
    if (stopped?.html) {
      evidence.push(
        this.files.keep(Buffer.from(stopped.html), {
          name: `${recipe.id}-at-failure.html`,
          kind: 'file',
          summary: `the page's HTML where ${recipe.id} stopped`,
          at,
        }),
      );
    }
    const detail =
      result.status === 'drift'
        ? `recipe drift in ${recipe.id} at step ${result.stepIndex} "${result.step}": ${result.detail}`
        : result.status === 'blocked'
          ? `blocked in ${recipe.id} at "${result.step}": ${result.detail}`
          : result.status === 'unreachable'
            ? `${recipe.id} could not reach the console: ${result.detail}`
            : result.detail;
    const attempt: Attempt = {
      status: result.status,
      detail,
      evidence,
      ...(stopped ? { step: stopped.step } : {}),
      ...(stopped?.blockers?.length ? { blockers: stopped.blockers } : {}),
    };
    return { attempt, records: result.status === 'done' ? result.records : {} };
  }

  /**
   * The recipe's parameters: the request's values, the account id recorded for the person in the app
   * (`from: accountId`, the most recently seen of the known ids), and the tenant's secrets resolved
   * now (never stored). Or why they cannot be had.
   */
  private params(
    run: RunRecord,
    app: string,
    recipe: BrowserRecipe,
    request: LifecycleRequest,
    extra: Record<string, string> = {},
    known: KnownIdentifiers = noKnownIdentifiers,
  ): Record<string, string | undefined> | string {
    let params: Record<string, string | undefined>;
    try {
      params = { ...recipeSecrets(recipe, app, run.profile.apps[app] ?? {}, this.secrets), ...extra };
    } catch (error) {
      return (error as Error).message;
    }
    for (const [name, parameter] of Object.entries(recipe.parameters)) {
      if (name in extra || parameter.type === 'secret' || parameter.type === 'login') continue;
      if (parameter.type === 'setting') {
        params[name] = run.profile.apps[app]?.settings?.[name];
        if (parameter.required && !params[name]) return `the tenant profile sets no apps.${app}.settings.${name} for ${recipe.id}`;
        continue;
      }
      const from = parameter.from ?? name;
      const value =
        from === 'accountId' ? known.ids[0] : from === 'role' ? request.access?.roles?.[0] : columnValue(request, from as Parameters<typeof columnValue>[1]) || undefined;
      if (parameter.required && !value) return `the request gives no ${name} for ${recipe.id}`;
      params[name] = value;
    }
    return params;
  }
}

/**
 * A recipe's secret parameters, resolved now from the app's secret references (never stored).
 * Throws, naming the reference, when one is missing or cannot be resolved.
 */
export function recipeSecrets(recipe: BrowserRecipe, app: string, settings: AppSettings, secrets: SecretResolver): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [name, parameter] of Object.entries(recipe.parameters)) {
    if (parameter.type !== 'secret' && parameter.type !== 'login') continue;
    const ref = settings.secrets?.[name];
    if (!ref) throw new InvalidInputError({ file: 'tenant profile', pointer: `/apps/${app}/secrets/${name}` }, `no secret reference for the robot's ${name}`);
    resolved[name] = secrets.resolve(ref);
  }
  return resolved;
}
