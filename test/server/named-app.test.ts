import assert from 'node:assert/strict';
import { namedApp } from '../../core/server/html.js';
import { renderTitle } from '../../core/channels/human/task-store.js';

/**
 * A name from a connector or a person (an app called "Sp$&nd", a person's address) goes into a runbook's
 * words as it is written: String.replace would read `$&`, `$'`, `` $` `` and `$1` in it as replacement patterns.
 */
describe('names put into runbook words are text, not replacement patterns', () => {
  const names = ['Sp$&nd', "A$'B", 'C$`D', 'E$1F', '$$G'];

  it('a checklist step says "the app" as the app\'s own name, literally', () => {
    for (const name of names) assert.equal(namedApp('Open the app, then The app settings.', name), `Open ${name}, then ${name} settings.`);
  });

  it("a task's title puts the person's address and the app's name in literally", () => {
    for (const name of names) {
      assert.equal(renderTitle({ title: 'Remove {email} from {app}', items: [{ email: `x${name}@acme.com` }], content: { appName: name } }), `Remove x${name}@acme.com from ${name}`);
    }
    assert.equal(renderTitle({ title: '{email} / {app}', items: [{ email: 'a@b' }, { email: 'c@d' }], content: { appName: '$&' } }), '2 people / $&');
  });
});
