import assert from 'node:assert/strict';
import { BrowserHost } from '../../../core/channels/browser/browser-host.js';
import { type RecipeResult, runRecipe } from '../../../core/channels/browser/recipe-runner.js';
import type { BrowserRecipe } from '../../../core/schema/types/browser-recipe.js';
import { serve } from '../../support/http-server.js';

const host = new BrowserHost();
after(() => host.close());

const robot = { login: 'robot', password: 's3cret-pass-42' };

/**
 * A sign-in page whose script moves the focus to the login field, and selects it, just after the password
 * field first gets the focus: what WordPress's wp-login.php does 200 ms after loading (wp_attempt_focus),
 * here made certain rather than timed. The text Playwright types "into the password" then replaces the login.
 */
const signInPage = (error = '') => `<!doctype html><html><body><main>
${error ? `<div id="login_error">${error}</div>` : ''}
<form method="post" action="/login">
  <label for="user">Login</label><input id="user" name="log">
  <label for="pass">Password</label><input id="pass" name="pwd" type="password">
  <button id="go">Sign in</button>
</form>
<script>
  let stolen = false;
  document.getElementById('pass').addEventListener('focus', () => {
    if (stolen) return;
    stolen = true;
    // Just after the focus, before the typed text arrives (a timer of the page, as WordPress's is).
    setTimeout(() => {
      const d = document.getElementById('user');
      d.focus();
      d.select();
    }, 0);
  });
</script></main></body></html>`;

async function signInConsole() {
  return serve((req, res) => {
    if (req.method === 'POST' && req.url === '/login') {
      const form = new URLSearchParams(req.body);
      if (form.get('log') === robot.login && form.get('pwd') === robot.password) {
        res.writeHead(302, { location: '/admin/' }).end();
      } else {
        // The console's own refusal (it names the login it was sent, as WordPress does).
        res.writeHead(200, { 'content-type': 'text/html' }).end(signInPage(`Error: the username ${form.get('log')} is not registered.`));
      }
      return;
    }
    if (req.url === '/admin/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><main><h1>Dashboard</h1></main>');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end(signInPage());
  });
}

const recipe: BrowserRecipe = {
  schemaVersion: 2,
  id: 'sign-in',
  title: 'Sign in',
  operation: 'listUsers',
  parameters: {
    adminLogin: { type: 'login', required: true },
    adminPassword: { type: 'secret', required: true },
  },
  steps: [
    { name: 'open sign-in', action: 'goto', url: '/login' },
    { name: 'type login', action: 'fill', selector: '#user', value: '{adminLogin}' },
    { name: 'type password', action: 'fill', selector: '#pass', value: '{adminPassword}' },
    { name: 'sign in', action: 'click', selector: '#go', waitFor: { url: '**/admin/**' } },
    { name: 'signed in?', action: 'blocked-if', selector: '#login_error', says: 'the console refused the sign-in' },
    { name: 'dashboard', action: 'expect', selector: 'h1' },
  ],
};

const run = (url: string, params: Record<string, string>): Promise<RecipeResult> =>
  host.withContext((context) => runRecipe(context, { recipe, consoleUrl: url, params, stepTimeoutMs: 3_000 }));

describe('the recipe runner and a console that moves the focus while a form is typed', function () {
  this.timeout(60_000);

  it('types again a field whose text a later fill replaced, before the click sends the form', async () => {
    const console_ = await signInConsole();
    const result = await run(console_.url, { adminLogin: robot.login, adminPassword: robot.password });
    assert.equal(result.status, 'done', result.detail);
    const posts = console_.requests.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 1, 'one sign-in, sent once');
    assert.equal(new URLSearchParams(posts[0]!.body).get('log'), robot.login, 'the login the recipe typed, not the password');
  });

  it('a sign-in the console refuses is blocked with its message, the password in no output', async () => {
    const console_ = await signInConsole();
    const wrong = 'wrong-but-secret-p4ss';
    const result = await run(console_.url, { adminLogin: robot.login, adminPassword: wrong });
    assert.equal(result.status, 'blocked', result.detail);
    if (result.status !== 'blocked') return;
    assert.equal(result.step, 'sign in');
    assert.equal(result.detail, 'the console refused the sign-in: Error: the username robot is not registered.');
    assert.ok(!JSON.stringify({ ...result, shots: undefined }).includes(wrong));
  });
});
