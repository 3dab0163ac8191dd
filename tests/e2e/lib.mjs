// Shared pieces of the dashboard's browser tests: Debian's Chromium driven by playwright-core
// (never a downloaded browser), one screenshot per scenario, and axe-core's accessibility check.
//
// Environment (set by crates/cli/tests/dashboard_e2e.rs):
//   SWITCHBOARD_URL        the `switchboard serve` base URL (http://127.0.0.1:PORT)
//   SANDBOX_URL            the `switchboard sandbox` base URL
//   SWITCHBOARD_API_KEY    an API key of the workspace under test
//   E2E_SCREENSHOTS        where screenshots and axe reports go (target/e2e-screenshots)
//   CHROMIUM               the browser binary (default /usr/bin/chromium)
//   E2E_TIMEOUT_MS         per-action timeout in milliseconds (default 15000)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);

/** Reads a required environment variable or exits with a message naming it. */
export function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') {
    console.error(`e2e: environment variable ${name} is required`);
    process.exit(2);
  }
  return v;
}

/** The Chromium flags of every run: headless, no sandbox (root in CI), nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Starts Chromium with a fresh profile directory (removed by `close`). Returns
 * `{context, page, close}`; `context` is a persistent context (one profile, its cookies).
 */
export async function launch({ viewport = { width: 1280, height: 900 }, timezoneId } = {}) {
  const executablePath = env('CHROMIUM', '/usr/bin/chromium');
  if (!fs.existsSync(executablePath)) {
    throw new Error(`${executablePath} not found: run scripts/install-test-deps.sh (apt chromium)`);
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-e2e-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    timezoneId,
    locale: 'en-GB',
  });
  const timeout = Number(env('E2E_TIMEOUT_MS', '15000'));
  context.setDefaultTimeout(timeout);
  context.setDefaultNavigationTimeout(timeout);
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors = [];
  const watch = (p) => {
    p.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${p.url()}: ${m.text()}`);
    });
    p.on('pageerror', (e) => consoleErrors.push(`${p.url()}: uncaught ${e.message}`));
  };
  watch(page);
  context.on('page', watch);
  return {
    context,
    page,
    consoleErrors,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** The directory for screenshots and reports, created empty of the previous run's files. */
export function artifactsDir() {
  const dir = env('E2E_SCREENSHOTS', path.resolve('target/e2e-screenshots'));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Removes the files a previous run of `prefix` left (a fresh run writes its own). */
export function clearArtifacts(dir, prefix) {
  for (const f of fs.readdirSync(dir)) {
    if (f.startsWith(prefix)) fs.rmSync(path.join(dir, f), { force: true });
  }
}

/**
 * Runs `scenarios` (`[{name, run(page, ctx)}]`) in order, one screenshot each
 * (`<prefix>NN-<name>.png`, `...-FAILED.png` on failure). Stops at the first failure (the later
 * scenarios build on the earlier ones). Returns true when all passed.
 */
export async function runScenarios({ prefix, scenarios, browser, ctx }) {
  const dir = artifactsDir();
  clearArtifacts(dir, prefix);
  let n = 0;
  for (const s of scenarios) {
    n += 1;
    const slug = `${prefix}${String(n).padStart(2, '0')}-${s.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
    const started = Date.now();
    let error;
    try {
      await s.run(browser.page, ctx);
    } catch (e) {
      error = e;
    }
    const ms = Date.now() - started;
    const shot = path.join(dir, `${slug}${error ? '-FAILED' : ''}.png`);
    // The page the scenario ended on (a popup it left open counts as its page).
    const target = ctx.shotPage && !ctx.shotPage.isClosed() ? ctx.shotPage : browser.page;
    ctx.shotPage = undefined;
    await target.screenshot({ path: shot, fullPage: true }).catch((e) => {
      console.log(`   (no screenshot: ${e.message})`);
    });
    if (error) {
      console.log(`FAIL ${s.name} (${ms} ms) screenshot: ${shot}`);
      console.log(`     at ${browser.page.url()}`);
      console.log(String(error.stack || error).replace(/^/gm, '     '));
      if (browser.consoleErrors.length) {
        console.log('     browser console errors:');
        for (const c of browser.consoleErrors) console.log(`       ${c}`);
      }
      return false;
    }
    console.log(`PASS ${s.name} (${ms} ms) screenshot: ${shot}`);
  }
  return true;
}

/** Saves an extra screenshot `<dir>/<name>.png` of `page` in the middle of a scenario. */
export async function shot(page, name) {
  const file = path.join(artifactsDir(), `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`   screenshot: ${file}`);
}

/**
 * Runs axe-core (injected from node_modules, no network) on the current page against WCAG 2.x
 * A/AA and best practices. Writes `<dir>/axe-<label>.json`; returns the violations, each
 * `{id, impact, help, nodes}`.
 */
export async function axe(page, label) {
  const source = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    window.__axePasses = r.passes.length;
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
  });
  const passes = await page.evaluate(() => window.__axePasses);
  if (!passes) throw new Error(`axe ran no rule on ${label}: is the page empty?`);
  result.passes = passes;
  const dir = artifactsDir();
  fs.writeFileSync(path.join(dir, `axe-${label}.json`), JSON.stringify({ passes, violations: result }, null, 2));
  return result;
}

/** Throws when `violations` hold a serious or critical one; prints them all either way. */
export function assertNoSeriousViolations(label, violations) {
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const summary = violations.map((v) => `${v.impact}:${v.id}(${v.nodes.length})`).join(' ') || 'none';
  console.log(`   axe ${label}: ${summary} (${violations.passes ?? '?'} rules passed)`);
  if (bad.length) {
    const detail = bad
      .map((v) => `${v.impact} ${v.id}: ${v.help}\n` + v.nodes.map((n) => `    ${n.target}: ${n.summary}`).join('\n'))
      .join('\n');
    throw new Error(`axe found serious/critical violations on ${label}:\n${detail}`);
  }
}

/** Polls `check` (async → truthy) every 250 ms until it holds or `ms` pass; returns its value. */
export async function eventually(what, check, ms = 20000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** JSON over HTTP with `fetch` (Node's own): the API and sandbox control calls of a test. */
export async function http(method, url, { body, key } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key) headers.authorization = `Bearer ${key}`;
  const r = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { text };
  }
  if (!r.ok) throw new Error(`${method} ${url} → ${r.status}: ${text.slice(0, 500)}`);
  return json;
}
