// Test authorization server for Switchboard's OAuth 2.0 client tests.
//
// Runs the OpenID Certified `oidc-provider` package (panva/node-oidc-provider) on
// 127.0.0.1 with ONE pre-registered confidential client and an automatic
// (human-free) login + consent interaction. See README.md next to this file.
//
// stdout carries exactly one line, once the server is listening:
//   OIDC_PROVIDER_READY issuer=http://127.0.0.1:<port>
// Everything else (oidc-provider warnings, one line per rejected request) goes
// to stderr.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

// Keep stdout reserved for the ready line: oidc-provider prints its "you SHOULD
// change ..." notices with console.info (stdout). Route console.log/info/debug to
// stderr before anything else can print.
for (const level of ['log', 'info', 'debug']) {
  console[level] = (...args) => console.error(...args);
}

const { default: Provider, interactionPolicy } = await import('oidc-provider');

function fail(message) {
  process.stderr.write(`oidc-provider test server: ${message}\n`);
  process.exit(2);
}

function positiveInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0) fail(`${name} must be a positive integer (seconds), got ${JSON.stringify(raw)}`);
  return Number(raw);
}

// ---------------------------------------------------------------- configuration

const PORT = (() => {
  const raw = process.env.PORT ?? '0';
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) fail(`PORT must be 0..65535, got ${JSON.stringify(raw)}`);
  return Number(raw);
})();
const CLIENT_ID = process.env.CLIENT_ID || 'switchboard-test';
const CLIENT_SECRET = process.env.CLIENT_SECRET || 'switchboard-test-secret';
const REDIRECT_URIS = (process.env.REDIRECT_URIS ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
if (REDIRECT_URIS.length === 0) fail('REDIRECT_URIS is required (comma-separated list of absolute redirect URIs)');
const TOKEN_ENDPOINT_AUTH_METHOD = process.env.TOKEN_ENDPOINT_AUTH_METHOD || 'client_secret_basic';
if (!['client_secret_basic', 'client_secret_post'].includes(TOKEN_ENDPOINT_AUTH_METHOD)) {
  fail(`TOKEN_ENDPOINT_AUTH_METHOD must be client_secret_basic or client_secret_post, got ${JSON.stringify(TOKEN_ENDPOINT_AUTH_METHOD)}`);
}
const ACCESS_TOKEN_TTL = positiveInt('ACCESS_TOKEN_TTL', 3600);
const REFRESH_TOKEN_TTL = positiveInt('REFRESH_TOKEN_TTL', 14 * 24 * 60 * 60);
const DEFAULT_ACCOUNT_ID = 'alice';

// Scopes: the OIDC ones plus Switchboard's custom API scopes. Listing the custom
// scopes in `scopes` makes oidc-provider accept them and put them in the grant /
// access token (resourceIndicators is disabled, so every access token is an
// opaque token for this server's userinfo + introspection).
const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'posts.read', 'posts.write'];

// Ephemeral signing key (ID tokens) so the package's published development keys
// are not used.
const signingKey = {
  ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid: `test-${crypto.randomBytes(6).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

function accountClaims(accountId) {
  const name = accountId.charAt(0).toUpperCase() + accountId.slice(1);
  return {
    sub: accountId,
    name,
    given_name: name,
    preferred_username: accountId,
    email: `${accountId}@example.test`,
    email_verified: true,
  };
}

// Interaction policy: the package default (login, then consent) plus one check:
// a login_hint naming another account than the current session's forces a new
// (automatic) login, so the token is always for the hinted account even when
// the client reuses its cookie jar.
const policy = interactionPolicy.base();
policy.get('login').checks.push(new interactionPolicy.Check(
  'login_hint_other_account',
  'login_hint names an account other than the session\'s',
  (ctx) => {
    const hint = ctx.oidc.params.login_hint;
    const current = ctx.oidc.session.accountId;
    return Boolean(hint && current && hint !== current);
  },
));

const configuration = {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      // 'web' (the default): a confidential server-side client. oidc-provider
      // accepts http:// and localhost/127.0.0.1 redirect URIs for web clients
      // using the code flow (only implicit-flow web clients are restricted), and
      // matches them EXACTLY (port included). 'native' would make loopback
      // redirect URIs port-agnostic, which is not what Switchboard is.
      application_type: 'web',
      redirect_uris: REDIRECT_URIS,
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: TOKEN_ENDPOINT_AUTH_METHOD,
      scope: SCOPES.join(' '),
    },
  ],
  scopes: SCOPES,
  responseTypes: ['code'],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return accountClaims(sub);
      },
    };
  },
  jwks: { keys: [signingKey] },
  cookies: {
    keys: [crypto.randomBytes(32).toString('base64url')],
    // Plain http on 127.0.0.1: no `secure` flag (koa only sets it on https
    // requests) and SameSite=Lax on both cookie kinds. The package default for
    // the long-lived session cookie is SameSite=None, which browsers reject
    // without Secure; Lax works for curl/reqwest/browsers alike.
    long: { httpOnly: true, sameSite: 'lax', signed: true },
    short: { httpOnly: true, sameSite: 'lax', signed: true },
  },
  pkce: {
    required: () => true,
    methods: ['S256'],
  },
  // Issue a refresh token whenever offline_access was granted (the package
  // default, spelled out because tests depend on it). oidc-provider follows
  // OpenID Connect Core section 11 strictly and silently DROPS offline_access from
  // any authorization request whose prompt does not contain `consent`; the
  // middleware installed in the listen callback (`offlineAccessImpliesConsent`)
  // adds prompt=consent to such requests when they carry no prompt at all, so
  // clients get refresh tokens without sending prompt=consent (like most real
  // providers). Consent is automatic here anyway.
  async issueRefreshToken(_ctx, client, code) {
    return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
  },
  // Every refresh_token grant consumes the presented refresh token and returns a
  // new one. Presenting a consumed refresh token again is treated as replay: the
  // request fails with invalid_grant AND the whole grant (all its tokens) is
  // revoked (revokeGrantPolicy below).
  rotateRefreshToken: true,
  revokeGrantPolicy: () => true,
  interactions: {
    policy,
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  features: {
    devInteractions: { enabled: false }, // replaced by the automatic interaction below
    introspection: {
      enabled: true,
      // Any authenticated (confidential) client may introspect, including the
      // client the token was issued to.
      allowedPolicy: async (_ctx, client) => client.clientAuthMethod !== 'none',
    },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
  },
  // Opaque access tokens (the default format) for the userinfo audience.
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: REFRESH_TOKEN_TTL,
    Interaction: 600,
    Session: 24 * 60 * 60,
    Grant: 30 * 24 * 60 * 60,
  },
  clientBasedCORS: () => true,
  async renderError(ctx, out, error) {
    ctx.type = 'application/json';
    ctx.body = out;
    if (error?.status >= 500 || !error?.status) process.stderr.write(`render error: ${error?.stack ?? error}\n`);
  },
};

// ---------------------------------------------------------------- server

// The issuer must contain the real port, which is only known once a random
// port (PORT=0) has been bound: listen first, then build the provider; no
// request can arrive before the ready line is printed anyway.
let provider;
let providerCallback;

const server = http.createServer((req, res) => {
  if (!providerCallback) {
    res.writeHead(503).end();
    return;
  }
  if (req.method === 'GET' && /^\/interaction\/[^/?]+(\?|$)/.test(req.url)) {
    autoInteraction(req, res).catch((err) => {
      process.stderr.write(`interaction failed: ${err?.stack ?? err}\n`);
      if (!res.headersSent) {
        res.writeHead(err?.statusCode || err?.status || 500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: err?.error || 'server_error', error_description: err?.error_description || String(err?.message ?? err) }));
      }
    });
    return;
  }
  if (clientAuthMethodMismatch(req, res)) return;
  providerCallback(req, res);
});

// oidc-provider treats client_secret_basic and client_secret_post as
// interchangeable (a client registered with either may use both). Tests need
// TOKEN_ENDPOINT_AUTH_METHOD to mean something, so enforce it strictly on the
// endpoints that authenticate the client: a client_secret_post client must not
// send HTTP Basic credentials, a client_secret_basic client must send them.
const CLIENT_AUTH_PATHS = new Set(['/token', '/token/introspection', '/token/revocation']);
function clientAuthMethodMismatch(req, res) {
  if (req.method !== 'POST' || !CLIENT_AUTH_PATHS.has(req.url.split('?')[0])) return false;
  const usesBasic = /^basic\s/i.test(req.headers.authorization ?? '');
  let description;
  if (TOKEN_ENDPOINT_AUTH_METHOD === 'client_secret_post' && usesBasic) {
    description = 'client is registered with token_endpoint_auth_method=client_secret_post but the request used HTTP Basic (client_secret_basic)';
  } else if (TOKEN_ENDPOINT_AUTH_METHOD === 'client_secret_basic' && !usesBasic) {
    description = 'client is registered with token_endpoint_auth_method=client_secret_basic but the request has no HTTP Basic Authorization header';
  } else {
    return false;
  }
  process.stderr.write(`client auth method mismatch on ${req.url}: ${description}\n`);
  req.resume(); // drain the unread body
  const headers = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
  if (TOKEN_ENDPOINT_AUTH_METHOD === 'client_secret_basic') headers['www-authenticate'] = 'Basic realm="oidc-provider"';
  res.writeHead(401, headers);
  res.end(JSON.stringify({ error: 'invalid_client', error_description: description }));
  return true;
}

// Automatic login + consent: no human exists in the tests. The account is the
// authorization request's login_hint, else "alice"; every requested scope and
// claim is granted. Responds 303 (as oidc-provider's own interactionFinished
// does) to the resume URL /auth/<uid>, which then 303s to the client's
// redirect_uri with code, state and iss.
async function autoInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { params, prompt, session, grantId: existingGrantId } = details;

  const accountId = (typeof params.login_hint === 'string' && params.login_hint.trim())
    || session?.accountId
    || DEFAULT_ACCOUNT_ID;

  if (session?.accountId && session.accountId !== accountId) {
    // Switching accounts inside an existing provider session: oidc-provider
    // would answer the resume step with an auto-submitting HTML logout form
    // (a browser-only step). End the old session here instead and detach it
    // from this interaction, so resume starts a fresh session for accountId.
    const old = session.cookie ? await provider.Session.find(session.cookie) : undefined;
    if (old) await old.destroy();
    delete details.session;
    await details.save(details.exp - Math.floor(Date.now() / 1000));
  }

  let grant = existingGrantId ? await provider.Grant.find(existingGrantId) : undefined;
  if (!grant || grant.accountId !== accountId || grant.clientId !== params.client_id) {
    // none yet, or the session's grant belongs to another account
    grant = new provider.Grant({ accountId, clientId: params.client_id });
  }

  const scopes = new Set(String(params.scope ?? '').split(' ').filter(Boolean));
  for (const s of prompt.details?.missingOIDCScope ?? []) scopes.add(s);
  if (scopes.size) grant.addOIDCScope([...scopes].join(' '));
  if (prompt.details?.missingOIDCClaims?.length) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, resourceScopes] of Object.entries(prompt.details?.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, resourceScopes.join(' '));
  }
  const grantId = await grant.save();

  await provider.interactionFinished(
    req,
    res,
    {
      login: { accountId, amr: ['auto'], remember: true },
      consent: { grantId },
    },
    { mergeWithLastSubmission: false },
  );
}

// See issueRefreshToken above. Only GET authorization requests without any
// `prompt` parameter are touched; an explicit prompt (e.g. prompt=login) keeps
// oidc-provider's standard behaviour of ignoring offline_access.
async function offlineAccessImpliesConsent(ctx, next) {
  if (
    ctx.method === 'GET'
    && ctx.path === '/auth'
    && ctx.query.prompt === undefined
    && typeof ctx.query.scope === 'string'
    && ctx.query.scope.split(' ').includes('offline_access')
  ) {
    ctx.query = { ...ctx.query, prompt: 'consent' };
  }
  await next();
}

server.listen(PORT, '127.0.0.1', async () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  provider = new Provider(issuer, configuration);
  provider.use(offlineAccessImpliesConsent);
  provider.on('server_error', (ctx, err) => process.stderr.write(`server_error ${ctx?.method} ${ctx?.path}: ${err?.stack ?? err}\n`));
  for (const event of ['authorization.error', 'grant.error', 'introspection.error', 'revocation.error', 'userinfo.error', 'discovery.error']) {
    provider.on(event, (_ctx, err) => process.stderr.write(`${event}: ${err?.error ?? err?.name}: ${err?.error_description ?? err?.message}${err?.error_detail ? ` (${err.error_detail})` : ''}\n`));
  }
  // Static clients are validated lazily; load ours now so a bad REDIRECT_URIS
  // (or other metadata) fails at startup instead of on the first request.
  try {
    if (!await provider.Client.find(CLIENT_ID)) throw new Error('client not found after registration');
  } catch (err) {
    fail(`invalid client configuration: ${err.error_description ?? err.message}`);
  }
  providerCallback = provider.callback();
  process.stdout.write(`OIDC_PROVIDER_READY issuer=${issuer}\n`);
});

server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${PORT}: ${err.message}`));

function shutdown(signal) {
  process.stderr.write(`oidc-provider test server: ${signal}, shutting down\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
