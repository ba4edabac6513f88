import assert from 'node:assert/strict';
import { harness } from '../support/runtime.js';
import { FormClient, rawRequest, serverFor } from '../support/server.js';

/**
 * The HTTP bad-input corpus: bodies, query strings and forms the server must refuse with one clear
 * message naming what was wrong (a JSON pointer where the API has one), and without changing the store.
 */
interface BadInput {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  /** `{task}` and `{run}` are replaced with an open task and its run. */
  readonly path: string;
  /** Who sends it: a token of it-ops, the same with runs:on-behalf-of, or a signed-in operator of it-ops. */
  readonly as: 'token' | 'behalf' | 'operator';
  /** A JSON body (a string is sent as written). */
  readonly body?: unknown;
  readonly type?: string;
  readonly headers?: Record<string, string>;
  /** A form, posted with a valid form token for its action. */
  readonly form?: Record<string, string>;
  readonly status: number;
  readonly pointer?: string;
  readonly says: RegExp;
}

const run = (more: Record<string, unknown>) => ({ playbook: 'offboard', app: 'spendesk', subject: { email: 'carol@acme.com' }, ...more });
const done = { action: 'complete', evidence: [{ text: 'removed' }] };

const corpus: readonly BadInput[] = [
  // Lifecycle requests: POST /api/v1/runs
  { name: 'truncated JSON', method: 'POST', path: '/api/v1/runs', as: 'token', body: '{"playbook": ', status: 400, says: /not valid JSON/ },
  { name: 'an array', method: 'POST', path: '/api/v1/runs', as: 'token', body: [], status: 400, pointer: '', says: /#: must be object/ },
  { name: 'a string', method: 'POST', path: '/api/v1/runs', as: 'token', body: '"offboard alice"', status: 400, pointer: '', says: /#: must be object/ },
  { name: 'null', method: 'POST', path: '/api/v1/runs', as: 'token', body: 'null', status: 400, pointer: '', says: /#: must be object/ },
  { name: 'an empty object', method: 'POST', path: '/api/v1/runs', as: 'token', body: {}, status: 400, pointer: '/playbook', says: /#\/playbook: is required/ },
  { name: 'an unknown playbook', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ playbook: 'fire' }), status: 400, pointer: '/playbook', says: /#\/playbook: must be one of/ },
  { name: 'no app', method: 'POST', path: '/api/v1/runs', as: 'token', body: { playbook: 'offboard', subject: { email: 'carol@acme.com' } }, status: 400, pointer: '/app', says: /#\/app: is required/ },
  { name: 'an app id with spaces', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ app: 'Spend Desk' }), status: 400, pointer: '/app', says: /#\/app: must be a lower-case identifier: letters, digits and dashes/ },
  { name: 'an app nobody knows', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ app: 'nope' }), status: 404, says: /unknown connector 'nope'/ },
  { name: 'no subject', method: 'POST', path: '/api/v1/runs', as: 'token', body: { playbook: 'offboard', app: 'spendesk' }, status: 400, pointer: '/subject', says: /#\/subject: is required/ },
  { name: 'not an email', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ subject: { email: 'not-an-email' } }), status: 400, pointer: '/subject/email', says: /#\/subject\/email: must be a valid email/ },
  { name: 'an email that is a number', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ subject: { email: 42 } }), status: 400, pointer: '/subject/email', says: /#\/subject\/email: must be string/ },
  { name: 'an empty first name', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ subject: { email: 'carol@acme.com', firstName: '' } }), status: 400, pointer: '/subject/firstName', says: /#\/subject\/firstName: must NOT have fewer than 1 characters/ },
  { name: 'an unknown subject field', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ subject: { email: 'carol@acme.com', manager: 'x' } }), status: 400, pointer: '/subject/manager', says: /#\/subject\/manager: is not allowed here/ },
  { name: 'an unknown top-level field', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ priority: 'high' }), status: 400, pointer: '/priority', says: /#\/priority: is not allowed here/ },
  { name: 'roles that are not a list', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ playbook: 'onboard', access: { roles: 'admin' } }), status: 400, pointer: '/access/roles', says: /#\/access\/roles: must be array/ },
  { name: 'an empty idempotency key', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ idempotencyKey: '' }), status: 400, pointer: '/idempotencyKey', says: /#\/idempotencyKey: must NOT have fewer than 1 characters/ },
  { name: 'an idempotency key of 201 characters', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ idempotencyKey: 'k'.repeat(201) }), status: 400, pointer: '/idempotencyKey', says: /#\/idempotencyKey: must NOT have more than 200 characters/ },
  { name: 'an Idempotency-Key header of 201 characters', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({}), headers: { 'idempotency-key': 'k'.repeat(201) }, status: 400, pointer: '/headers/idempotency-key', says: /#\/headers\/idempotency-key: must be 1 to 200 characters/ },
  { name: 'a forged requester', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ requestedBy: 'it.lead@acme.example' }), status: 400, pointer: '/requestedBy', says: /#\/requestedBy: is taken from the credential/ },
  { name: 'a requester that is not a string', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ requestedBy: ['it.lead@acme.example'] }), status: 400, pointer: '/requestedBy', says: /#\/requestedBy: is taken from the credential/ },
  { name: 'on behalf of, without the permission', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ onBehalfOf: 'people@acme.example' }), status: 403, says: /needs the runs:on-behalf-of permission/ },
  { name: 'on behalf of someone who is not an email', method: 'POST', path: '/api/v1/runs', as: 'behalf', body: run({ onBehalfOf: 'people' }), status: 400, pointer: '/onBehalfOf', says: /#\/onBehalfOf: must be a valid email/ },
  { name: 'on behalf of a number', method: 'POST', path: '/api/v1/runs', as: 'behalf', body: run({ onBehalfOf: 7 }), status: 400, pointer: '/onBehalfOf', says: /#\/onBehalfOf: must be string/ },
  { name: 'a reason that is not text', method: 'POST', path: '/api/v1/runs', as: 'token', body: run({ reason: { why: 'left' } }), status: 400, pointer: '/reason', says: /#\/reason: must be string/ },
  { name: 'plain text', method: 'POST', path: '/api/v1/runs', as: 'token', body: 'offboard carol', type: 'text/plain', status: 415, says: /Unsupported Media Type/ },
  { name: 'a body over 1 MB', method: 'POST', path: '/api/v1/runs', as: 'token', body: JSON.stringify(run({ reason: 'x'.repeat(1024 * 1024) })), status: 413, says: /too large/ },
  // Task actions: POST /api/v1/tasks/:id/actions
  { name: 'an unknown action', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'approve' }, status: 400, pointer: '/action', says: /^#\/action: must be one of "complete", "fail", "reassign", "retry-robot"$/ },
  { name: 'no action', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { evidence: [{ text: 'x' }] }, status: 400, pointer: '/action', says: /^#\/action: is required$/ },
  { name: 'an action that is a number', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 1 }, status: 400, pointer: '/action', says: /^#\/action: must be one of/ },
  { name: 'complete without evidence', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'complete' }, status: 400, pointer: '/evidence', says: /^#\/evidence: is required$/ },
  { name: 'evidence that is text, not a list', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'complete', evidence: 'done' }, status: 400, pointer: '/evidence', says: /^#\/evidence: must be array$/ },
  { name: 'evidence without text', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'complete', evidence: [{}] }, status: 400, pointer: '/evidence/0/text', says: /^#\/evidence\/0\/text: is required$/ },
  { name: 'evidence of 10001 characters', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'complete', evidence: [{ text: 'x'.repeat(10_001) }] }, status: 400, pointer: '/evidence/0/text', says: /more than 10000 characters/ },
  { name: 'fail without a reason', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'fail' }, status: 400, pointer: '/reason', says: /^#\/reason: is required$/ },
  { name: 'fail with an empty reason', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'fail', reason: '' }, status: 400, pointer: '/reason', says: /^#\/reason: must NOT have fewer than 1 characters$/ },
  { name: 'reassign to nowhere', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'reassign' }, status: 400, pointer: '/queue', says: /^#\/queue: is required$/ },
  { name: 'reassign to a queue id with spaces', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'reassign', queue: 'IT Ops' }, status: 400, pointer: '/queue', says: /^#\/queue: must be a lower-case identifier/ },
  { name: 'reassign to someone who is not an email', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'reassign', assignee: 'bob' }, status: 400, pointer: '/assignee', says: /^#\/assignee: must be a valid email$/ },
  { name: 'reassign to a queue that does not exist', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { action: 'reassign', queue: 'nowhere' }, status: 409, says: /unknown queue 'nowhere'/ },
  { name: 'an action with a stray field', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: { ...done, by: 'it.lead@acme.example' }, status: 400, pointer: '/by', says: /^#\/by: is not allowed here$/ },
  { name: 'an action as a list', method: 'POST', path: '/api/v1/tasks/{task}/actions', as: 'token', body: [done], status: 400, pointer: '', says: /^#: must be object$/ },
  { name: 'an action on a task that does not exist', method: 'POST', path: '/api/v1/tasks/task_nope/actions', as: 'token', body: done, status: 404, says: /unknown task 'task_nope'/ },
  // Query strings
  { name: 'a run status nobody has', method: 'GET', path: '/api/v1/runs?status=bogus', as: 'token', status: 400, pointer: '/query/status', says: /^#\/query\/status: must be one of "running", "waiting", "completed", "failed", "cancelled"$/ },
  { name: 'a page of none', method: 'GET', path: '/api/v1/runs?limit=0', as: 'token', status: 400, pointer: '/query/limit', says: /^#\/query\/limit: must be >= 1$/ },
  { name: 'a page size that is a word', method: 'GET', path: '/api/v1/runs?limit=all', as: 'token', status: 400, pointer: '/query/limit', says: /^#\/query\/limit: must be integer$/ },
  { name: 'a page over the maximum', method: 'GET', path: '/api/v1/runs?limit=100000', as: 'token', status: 400, pointer: '/query/limit', says: /^#\/query\/limit: must be <= 200$/ },
  { name: 'a cursor the server never gave', method: 'GET', path: '/api/v1/runs?cursor=eyJ4IjoxfQ', as: 'token', status: 400, pointer: '/query/cursor', says: /^#\/query\/cursor: is not a cursor this server gave/ },
  { name: 'an unknown query parameter', method: 'GET', path: '/api/v1/runs?sort=name', as: 'token', status: 400, pointer: '/query/sort', says: /^#\/query\/sort: is not allowed here$/ },
  { name: 'a task status nobody has', method: 'GET', path: '/api/v1/tasks?status=bogus', as: 'token', status: 400, pointer: '/query/status', says: /^#\/query\/status: must be one of "open", "completed", "failed", "cancelled", "all"$/ },
  { name: 'mine=yes', method: 'GET', path: '/api/v1/tasks?mine=yes', as: 'token', status: 400, pointer: '/query/mine', says: /^#\/query\/mine: must be one of "true", "false"$/ },
  { name: 'a queue with markup', method: 'GET', path: '/api/v1/tasks?queue=%3Cscript%3E', as: 'token', status: 400, pointer: '/query/queue', says: /^#\/query\/queue: must be a lower-case identifier/ },
  { name: 'a negative page', method: 'GET', path: '/api/v1/tasks?limit=-5', as: 'token', status: 400, pointer: '/query/limit', says: /^#\/query\/limit: must be >= 1$/ },
  { name: 'all findings in one page', method: 'GET', path: '/api/v1/reconciliation?limit=1000000', as: 'token', status: 400, pointer: '/query/limit', says: /^#\/query\/limit: must be <= 200$/ },
  { name: 'a run id of 101 characters', method: 'GET', path: `/api/v1/runs/${'r'.repeat(101)}`, as: 'token', status: 414, says: /is exceeding the max param length/ },
  { name: 'a run id that does not exist', method: 'GET', path: '/api/v1/runs/run_nope', as: 'token', status: 404, says: /^unknown run 'run_nope'$/ },
  { name: 'an inbox queue with markup', method: 'GET', path: '/inbox?queue=%3Cscript%3E', as: 'operator', status: 400, says: /#\/query\/queue: must be a lower-case identifier/ },
  { name: 'a runs page cursor of nonsense', method: 'GET', path: '/runs?cursor=%7B', as: 'operator', status: 400, says: /#\/query\/cursor: is not a cursor this server gave/ },
  { name: 'an evidence hash that is not one', method: 'GET', path: '/evidence/not-a-hash', as: 'operator', status: 404, says: /^unknown evidence file 'not-a-hash'$/ },
  // Forms, each with a valid form token
  { name: 'a completion without evidence', method: 'POST', path: '/tasks/{task}/complete', as: 'operator', form: {}, status: 409, says: /evidence is required/ },
  { name: 'a tick of a step that does not exist', method: 'POST', path: '/tasks/{task}/tick', as: 'operator', form: { step: '99' }, status: 409, says: /there is no step 99/ },
  { name: 'a tick of step "one"', method: 'POST', path: '/tasks/{task}/tick', as: 'operator', form: { step: 'one' }, status: 400, says: /^#\/step: must be the number of a step of the checklist \(got "one"\)$/ },
  { name: 'a tick without a step', method: 'POST', path: '/tasks/{task}/tick', as: 'operator', form: {}, status: 400, says: /^#\/step: must be the number of a step of the checklist \(got null\)$/ },
  { name: 'a reassignment to a queue that does not exist', method: 'POST', path: '/tasks/{task}/reassign', as: 'operator', form: { queue: 'nowhere' }, status: 409, says: /unknown queue 'nowhere'/ },
];

describe('bad HTTP input: refused with one clear message naming the field, the store unchanged', function () {
  this.timeout(60_000);

  it(`refuses each of the ${corpus.length} inputs of the corpus`, async () => {
    assert.ok(corpus.length >= 40);
    const h = await harness();
    const server = await serverFor(h);
    const [{ run: open }] = await h.start('offboard', 'alice@acme.com');
    const taskId = (await h.openTaskOf(open.id))!;
    const token = (await server.access.createToken({ name: 'ops', actor: 'it.oncall@acme.example', role: 'operator' })).token;
    const behalf = (await server.access.createToken({ name: 'hr', actor: 'it.oncall@acme.example', role: 'operator', scopes: ['runs:write', 'runs:on-behalf-of'] })).token;
    await server.access.setOperator('it.oncall@acme.example', 'a long test password', 'operator');
    const operator = new FormClient(server.url);
    await operator.signIn('it.oncall@acme.example', 'a long test password');
    const db = h.runtime.store.db;
    const counts = async () => {
      const n: Record<string, number> = {};
      for (const t of ['runs', 'tasks', 'task_items', 'steps', 'audit', 'signals'] as const) n[t] = Number((await db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      return n;
    };
    const tasksState = async () => JSON.stringify(await db.selectFrom('tasks').select(['id', 'queue', 'status', 'steps_done', 'evidence']).orderBy('id').execute());

    for (const input of corpus) {
      const p = input.path.replace('{task}', taskId).replace('{run}', open.id);
      const before = [await counts(), await tasksState()];
      let status: number;
      let message: string;
      let pointer: string | undefined;
      if (input.as === 'operator') {
        let answer;
        if (input.form) {
          const page = await operator.request('GET', `/tasks/${taskId}`);
          answer = await operator.request('POST', p, { ...input.form, _token: FormClient.token(page.body, p) });
        } else {
          answer = await operator.request(input.method, p);
        }
        status = answer.status;
        const alerts = [...answer.body.matchAll(/<p role="alert">([^<]*)<\/p>/g)].map((m) => m[1]!);
        assert.equal(alerts.length, 1, `${input.name}: one message on the page (${answer.body.slice(0, 300)})`);
        message = alerts[0]!.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
      } else {
        const body = input.body === undefined ? undefined : typeof input.body === 'string' ? input.body : JSON.stringify(input.body);
        const answer = await rawRequest(server.url, input.method, p, {
          authorization: `Bearer ${input.as === 'behalf' ? behalf : token}`,
          ...(body !== undefined ? { 'content-type': input.type ?? 'application/json' } : {}),
          ...input.headers,
        }, body);
        status = answer.status;
        const json = JSON.parse(answer.body) as { error: string; message: string; pointer?: string };
        assert.equal(typeof json.error, 'string', input.name);
        message = json.message;
        pointer = json.pointer;
        assert.ok(!message.includes('\n'), `${input.name}: one line`);
      }
      assert.equal(status, input.status, `${input.name}: ${status} ${message}`);
      assert.match(message, input.says, input.name);
      if (input.pointer !== undefined) assert.equal(pointer, input.pointer, `${input.name}: the pointer`);
      assert.deepEqual([await counts(), await tasksState()], before, `${input.name}: the store is unchanged`);
    }
    assert.equal((await h.runtime.tasks.get(taskId)).status, 'open');
  });
});
