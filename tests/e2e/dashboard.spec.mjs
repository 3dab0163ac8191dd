// The dashboard as a person uses it, in headless Chromium: sign in, connect an X account by
// clicking through the sandbox's consent page, see it healthy, schedule posts and see one
// published (and cancel another), break the connection at the sandbox and see the diagnosis,
// sign out. axe-core checks each main page. One screenshot per scenario (lib.mjs).
//
//   node tests/e2e/dashboard.spec.mjs   (env: see lib.mjs; run by crates/cli/tests/dashboard_e2e.rs)

import {
  assertNoSeriousViolations,
  axe,
  env,
  eventually,
  http,
  launch,
  runScenarios,
  shot,
} from './lib.mjs';

const base = env('SWITCHBOARD_URL');
const sandbox = env('SANDBOX_URL');
const apiKey = env('SWITCHBOARD_API_KEY');

const ctx = { axe: {} };

async function a11y(page, label) {
  const v = await axe(page, label);
  ctx.axe[label] = v;
  assertNoSeriousViolations(label, v);
}

/** The X connection's id, read through the API (what the dashboard created). */
async function xConnection() {
  const list = await http('GET', `${base}/v1/connections?platform=twitter`, { key: apiKey });
  const data = list.data ?? list.connections ?? list;
  if (!Array.isArray(data) || data.length === 0) throw new Error(`no X connection: ${JSON.stringify(list)}`);
  return data[0];
}

const pad = (n) => String(n).padStart(2, '0');

/** The X account's checkbox on the compose page. */
function xAccount(page) {
  return page.locator(`input[name="connection_id"][value="${ctx.connection.id}"]`);
}

const scenarios = [
  {
    name: 'sign in',
    async run(page) {
      await page.goto(`${base}/`);
      // Not signed in: the sign-in page.
      await page.locator('#api_key').waitFor();
      await shot(page, 'dashboard-01a-sign-in-page');
      await a11y(page, 'sign-in');
      // A wrong key is refused with a message.
      await page.locator('#api_key').fill('sbk_not_a_key');
      await page.locator('[data-testid="sign-in-key-submit"]').click();
      await page.locator('[data-testid="sign-in-error"]').waitFor();
      await page.locator('#api_key').fill(apiKey);
      await page.locator('[data-testid="sign-in-key-submit"]').click();
      await page.locator('[data-testid="nav-connections"][aria-current="page"]').waitFor();
      await page.locator('[data-testid="sign-out"]').waitFor();
    },
  },
  {
    name: 'connect an account through the sandbox consent page',
    async run(page) {
      await page.locator('[data-testid="nav-connect"]').click();
      const card = page.locator('[data-testid="platform-card"][data-platform="twitter"]');
      await card.waitFor();
      await shot(page, 'dashboard-02a-connect-page');
      await a11y(page, 'connect');
      const popupPromise = page.context().waitForEvent('page', { timeout: 5000 }).catch(() => null);
      await page.locator('[data-testid="connect-twitter"]').click();
      const popup = await popupPromise;
      const consent = popup ?? page;
      ctx.usedPopup = Boolean(popup);
      await consent.getByRole('button', { name: 'Allow' }).waitFor();
      await consent.screenshot({ path: `${process.env.E2E_SCREENSHOTS}/dashboard-02b-sandbox-consent.png`, fullPage: true });
      await consent.getByRole('button', { name: 'Allow' }).click();
      if (popup) {
        // The popup reports to the dashboard and closes (or shows the result itself).
        await Promise.race([
          popup.waitForEvent('close', { timeout: 15000 }),
          popup.locator('[data-connect-result="connected"]').waitFor({ timeout: 15000 }),
        ]);
        if (!popup.isClosed()) await popup.close();
      }
      await eventually('the connected result or account', async () =>
        (await page.locator('[data-connect-result="connected"], [data-testid="connection-card"][data-platform="twitter"], [data-testid="connection-detail"]').count()) > 0
      , 15000);
      console.log(`   consent opened in ${ctx.usedPopup ? 'a popup' : 'the same tab (redirect)'}`);
    },
  },
  {
    name: 'see the account healthy',
    async run(page) {
      await page.goto(`${base}/`);
      await page.locator('[data-testid="connection-card"][data-platform="twitter"][data-status="healthy"]').waitFor();
      await page.locator('[data-testid="connection-card"][data-platform="twitter"] [data-testid="status-badge"]').getByText('Healthy').waitFor();
      await a11y(page, 'connections');
      ctx.connection = await xConnection();
    },
  },
  {
    name: 'compose with live checks, publish now, see it published',
    async run(page) {
      await page.locator('[data-testid="nav-posts"]').click();
      await page.locator('[data-testid="posts-tab-new"]').click();
      await xAccount(page).check();
      const text = page.locator('#post-text');
      const meter = page.locator('#checks [data-platform="twitter"] .meter-text');
      // Live validation: X's weighted count (a URL counts 23 whatever its length).
      const prefix = 'Hello from the dashboard ';
      await text.fill(`${prefix}https://example.com/a/very/long/path/that/counts/as/twenty-three/characters`);
      await page.locator(`#checks [data-platform="twitter"] .meter-text[data-length="${prefix.length + 23}"]`).waitFor();
      // Past 280: refused live, the field marked invalid, the reason in words.
      await text.fill('x'.repeat(281));
      await page.locator('#checks [data-platform="twitter"][data-valid="false"]').waitFor();
      await page.locator('#checks [data-code="too_long"]').waitFor();
      await page.locator('#post-text[aria-invalid="true"]').waitFor();
      await meter.getByText('1 too many').waitFor();
      await shot(page, 'dashboard-04a-compose-too-long');
      await a11y(page, 'posts-compose');
      await text.fill('Hello from the Switchboard dashboard, published by a real browser.');
      await page.locator('#checks [data-platform="twitter"][data-valid="true"]').waitFor();
      await page.locator('#checks .preview').getByText('published by a real browser').waitFor();
      await shot(page, 'dashboard-04b-compose-ready');
      await page.locator('#when-now').check();
      await page.getByRole('button', { name: 'Publish now' }).click();
      // The post's page: its target goes from scheduled to published, with the link.
      await page.locator('[data-testid="flash-ok"]').waitFor();
      await page.locator('[data-testid="post-target"][data-status="published"]').waitFor({ timeout: 30000 });
      const href = await page.locator('[data-testid="published-link"]').getAttribute('href');
      if (!href || !href.startsWith('https://')) throw new Error(`published link ${href}`);
      ctx.publishedPost = page.url();
    },
  },
  {
    name: 'schedule for next week in a chosen zone, see list and calendar, cancel',
    async run(page) {
      await page.goto(`${base}/posts/new`);
      await xAccount(page).check();
      await page.locator('#post-text').fill('A post for next week');
      await page.locator('#when-at').check();
      // The zone picker starts on the browser's zone (Europe/London in this run).
      const initialZone = await page.locator('#post-time-zone').inputValue();
      if (initialZone !== 'Europe/London') throw new Error(`zone picker starts on ${initialZone}`);
      const when = new Date(Date.now() + 7 * 24 * 3600 * 1000);
      const day = `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}`;
      await page.locator('#post-publish-at').fill(`${day}T09:30`);
      await page.locator('#post-time-zone').selectOption('Europe/Paris');
      await page.locator('#checks [data-ready="true"]').getByText('(Europe/Paris)').waitFor();
      await page.getByRole('button', { name: 'Schedule' }).click();
      await page.locator('[data-testid="post-target"][data-status="scheduled"]').waitFor();
      ctx.scheduledPost = page.url().split('?')[0];
      // The list shows both posts with their statuses in words.
      await page.locator('[data-testid="posts-tab-list"]').click();
      await page.locator('[data-testid="post-row"]').filter({ hasText: 'A post for next week' }).getByText('Scheduled').first().waitFor();
      await page.locator('[data-testid="post-row"]').filter({ hasText: 'real browser' }).getByText('Published').first().waitFor();
      await shot(page, 'dashboard-05a-posts-list');
      await a11y(page, 'posts-list');
      // The calendar of that month shows it at 09:30 on its day, read in Paris.
      await page.goto(`${base}/posts/calendar?month=${day.slice(0, 7)}&tz=Europe/Paris`);
      await page.locator(`[data-date="${day}"]`).getByText('09:30 A post for next week').waitFor();
      await shot(page, 'dashboard-05b-posts-calendar');
      await a11y(page, 'posts-calendar');
      // Cancel it from its page (a confirmation first).
      await page.locator(`[data-date="${day}"]`).getByRole('link', { name: /next week/ }).click();
      page.once('dialog', (d) => d.accept());
      await page.locator('[data-testid="action-cancel"]').click();
      await page.locator('[data-testid="post-target"][data-status="cancelled"]').waitFor();
      await page.locator('[data-testid="flash-ok"]').waitFor();
    },
  },
  {
    name: 'a failed post shows its diagnosis and retry publishes it',
    async run(page) {
      // X refuses the next publish as a duplicate (its 403 problem body).
      await http('POST', `${sandbox}/__sandbox/faults`, {
        body: {
          platform: 'twitter', endpoint: 'publish', status: 403, times: 1,
          body: JSON.stringify({ title: 'Forbidden', type: 'about:blank', status: 403,
            detail: 'You are not allowed to create a Tweet with duplicate content.' }),
        },
      });
      await page.goto(`${base}/posts/new`);
      await xAccount(page).check();
      await page.locator('#post-text').fill('This one is refused first');
      await page.locator('#checks [data-ready="true"]').waitFor();
      await page.getByRole('button', { name: 'Publish now' }).click();
      await page.locator('[data-testid="post-target"][data-status="failed"]').waitFor({ timeout: 30000 });
      await page.locator('[data-testid="post-target"] [data-testid="diagnosis"]').getByText(/Platform said:.*duplicate content/).waitFor();
      await shot(page, 'dashboard-06a-post-failed');
      await a11y(page, 'post-failed');
      page.once('dialog', (d) => d.accept());
      await page.locator('[data-testid="action-retry"]').click();
      await page.locator('[data-testid="post-target"][data-status="published"]').waitFor({ timeout: 30000 });
    },
  },
  {
    name: 'break the connection and see its diagnosis',
    async run(page) {
      // The platform stops honouring the stored access token and the refresh token.
      const token = await http('GET', `${base}/v1/connections/${ctx.connection.id}/token`, { key: apiKey });
      const r = await http('POST', `${sandbox}/__sandbox/invalidate`, { body: { token: token.access_token } });
      if (!r.invalidated) throw new Error(`sandbox did not invalidate: ${JSON.stringify(r)}`);
      await http('POST', `${sandbox}/__sandbox/faults`, {
        body: {
          platform: 'twitter', endpoint: 'refresh', status: 400, times: 5,
          body: JSON.stringify({ error: 'invalid_grant', error_description: 'Value passed for the token was invalid.' }),
        },
      });
      await page.goto(`${base}/`);
      const card = page.locator('[data-testid="connection-card"][data-platform="twitter"]');
      await card.locator('[data-testid="action-refresh"]').click();
      const broken = page.locator('[data-testid="connection-card"][data-platform="twitter"][data-status="needs_reauth"]');
      await broken.waitFor();
      await broken.locator('[data-testid="status-badge"]').getByText('Needs reconnect').waitFor();
      await broken.locator('[data-testid="diagnosis"]').waitFor();
      await broken.locator('[data-testid="what-to-do"]').waitFor();
      await broken.locator('[data-testid="action-reconnect"]').first().waitFor();
      await a11y(page, 'connections-broken');
    },
  },
  {
    name: 'troubleshoot a pasted error',
    async run(page) {
      await page.locator('[data-testid="nav-troubleshoot"]').click();
      await page.locator('#ts-platform').selectOption('twitter');
      await page.locator('#ts-error').fill('{"errors":[{"code":89,"message":"Invalid or expired token."}]}');
      await page.locator('[data-testid="troubleshoot-submit"]').click();
      await page.locator('[data-testid="troubleshoot-result"] [data-testid="diagnosis"]').waitFor();
      await a11y(page, 'troubleshoot');
    },
  },
  {
    name: 'small screen and keyboard',
    async run(page) {
      // A phone-sized window: nothing may scroll sideways on the main pages.
      await page.setViewportSize({ width: 390, height: 844 });
      const tooWide = [];
      try {
        for (const [path, name, strict] of [['/posts/new', 'compose', true], ['/posts', 'list', true], ['/posts/calendar', 'calendar', true], ['/connect', 'connect', true], ['/troubleshoot', 'troubleshoot', true], ['/', 'home', true]]) {
          await page.goto(`${base}${path}`);
          await shot(page, `dashboard-09a-phone-${name}`);
          const overflow = await page.evaluate(() => {
            const w = window.innerWidth;
            const wide = [...document.querySelectorAll('body *')]
              .filter((e) => e.getBoundingClientRect().right > w + 1)
              .filter((e) => !e.parentElement || e.parentElement.getBoundingClientRect().right <= w + 1)
              .slice(0, 5)
              .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : ''} (${Math.round(e.getBoundingClientRect().right)}px)`);
            return { by: document.documentElement.scrollWidth - w, wide };
          });
          if (overflow.by > 1 && !strict) {
            console.log(`   WARNING: ${path} is ${overflow.by}px wider than a 390px screen; widest: ${overflow.wide.join(', ')}`);
          } else if (overflow.by > 1) {
            tooWide.push(`${path} is ${overflow.by}px wider than a 390px screen; widest: ${overflow.wide.join(', ')}`);
          }
        }
      } finally {
        await page.setViewportSize({ width: 1280, height: 900 });
      }
      // The keyboard: the first Tab reaches "Skip to content", which moves focus to the main part.
      await page.goto(`${base}/posts/new`);
      await page.keyboard.press('Tab');
      const first = await page.evaluate(() => document.activeElement && document.activeElement.textContent.trim());
      if (first !== 'Skip to content') throw new Error(`first Tab stop is ${JSON.stringify(first)}`);
      await page.keyboard.press('Enter');
      // Then Tab walks into the page: an account checkbox can be ticked with Space.
      await page.locator('input[name="connection_id"]').first().focus();
      await page.keyboard.press('Space');
      if (!(await page.locator('input[name="connection_id"]').first().isChecked())) throw new Error('Space did not tick the account');
      await page.locator('#checks [data-platform="twitter"]').waitFor();
      if (tooWide.length) throw new Error(tooWide.join('\n'));
    },
  },
  {
    name: 'sign out',
    async run(page) {
      await page.locator('[data-testid="sign-out"]').click();
      await page.locator('#api_key').waitFor();
      // The session is gone: a dashboard page sends back to sign-in.
      await page.goto(`${base}/posts`);
      await page.locator('#api_key').waitFor();
    },
  },
];

const started = Date.now();
const browser = await launch({ timezoneId: 'Europe/London' });
let ok = false;
try {
  ok = await runScenarios({ prefix: 'dashboard-', scenarios, browser, ctx });
} finally {
  await browser.close();
}
const serious = Object.entries(ctx.axe)
  .map(([k, v]) => `${k}=${v.filter((x) => x.impact === 'serious' || x.impact === 'critical').length}`)
  .join(' ');
console.log(`axe serious+critical per page: ${serious || '(none run)'}`);
console.log(`${ok ? 'all scenarios passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(ok ? 0 : 1);
