import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { BrowserHost, defaultChromium, unusedWindowFeatures } from '../../../core/channels/browser/browser-host.js';
import { spendeskConsole } from '../../support/spendesk-console.js';

/**
 * The command lines (argument lists) of this process's descendants that are a browser process Playwright drives
 * (not a helper process of one), by pid: in the whole suite other tests' browsers may still be running beside ours.
 */
function browserCommandLines(): Map<number, string[]> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out = new Map<number, string[]>();
  for (const pid of parents.keys()) {
    let mine = false;
    for (let p = parents.get(pid); p && p > 1; p = parents.get(p)) if (p === process.pid) mine = true;
    if (!mine) continue;
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (args.includes('--remote-debugging-pipe') && !args.some((a) => a.startsWith('--type='))) out.set(pid, args);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The addresses of every target the browser holds (pages, and its own WebUI ones), once a console page has loaded and `settleMs` has passed. */
async function targetsAfterAPage(host: BrowserHost, url: string, settleMs: number): Promise<string[]> {
  return host.withContext(async (context) => {
    const page = await context.newPage();
    await page.goto(url);
    const cdp = await (context.browser() as Browser).newBrowserCDPSession();
    const deadline = Date.now() + settleMs;
    let urls: string[] = [];
    do {
      await new Promise((r) => setTimeout(r, 100));
      const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: { url: string }[] };
      urls = targetInfos.map((t) => t.url);
    } while (Date.now() < deadline && !urls.some((u) => u.startsWith('chrome://omnibox-popup')));
    await cdp.detach();
    return urls;
  });
}

describe("Chromium as the browser channel launches it: the window's unused parts left out (issue 17, CPU per job)", function () {
  this.timeout(60_000);

  it("opens no WebUI renderer for the address bar's popup, which Chromium as launched before issue 17 did for every job", async () => {
    const sim = await spendeskConsole();
    const lean = new BrowserHost();
    const before = new BrowserHost({ asBefore: true });
    try {
      // Chromium as before: the popup's WebUI page appears beside the job's page (so the check below can fail).
      const asBefore = await targetsAfterAPage(before, `${sim.url}/login`, 5_000);
      assert.ok(asBefore.some((u) => u.startsWith('chrome://omnibox-popup')), `Chromium as before issue 17 should preload the omnibox popup (targets: ${asBefore.join(', ')}); if this Chromium no longer does, unusedWindowFeatures can go`);
      const now = await targetsAfterAPage(lean, `${sim.url}/login`, 1_500);
      assert.deepEqual(
        now.filter((u) => u.startsWith('chrome://')),
        [],
        `no WebUI page of the browser's own window (targets: ${now.join(', ')})`,
      );
      assert.ok(now.includes(`${sim.url}/login`), 'the job\'s own page is there');
    } finally {
      await lean.close();
      await before.close();
    }
  });

  it("launches Debian's headless shell when it is installed and the browser is headless, else the full chromium", () => {
    const installed = (file: string) => file.endsWith('chromium-headless-shell');
    assert.equal(defaultChromium(true, installed), '/usr/lib/chromium/chromium-headless-shell');
    assert.equal(defaultChromium(false, installed), '/usr/bin/chromium', 'a headed browser needs the window');
    assert.equal(defaultChromium(true, () => false), '/usr/bin/chromium', 'without the shell, the full browser');
  });

  it("keeps every feature Playwright turns off: Chromium reads only the last --disable-features, so ours must carry Playwright's", async () => {
    const sim = await spendeskConsole();
    const host = new BrowserHost();
    const others = new Set(browserCommandLines().keys());
    try {
      await host.withContext(async (context) => void (await (await context.newPage()).goto(`${sim.url}/login`)));
      const lines = [...browserCommandLines()].filter(([pid]) => !others.has(pid)).map(([, args]) => args);
      assert.equal(lines.length, 1, `one browser process started by this test (found ${lines.length})`);
      const lists = lines[0]!.filter((a) => a.startsWith('--disable-features=')).map((a) => a.slice('--disable-features='.length).split(','));
      assert.ok(lists.length >= 2, "Playwright's --disable-features and ours");
      const effective = new Set(lists.at(-1));
      const lost = lists.slice(0, -1).flat().filter((f) => !effective.has(f));
      assert.deepEqual(lost, [], "features of Playwright's list that the last --disable-features drops (add them to playwrightDisabledFeatures in browser-host.ts)");
      for (const f of unusedWindowFeatures) assert.ok(effective.has(f), f);
    } finally {
      await host.close();
    }
  });
});
