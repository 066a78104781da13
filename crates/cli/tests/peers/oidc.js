// A real OpenID provider on loopback for the social sign-in tests: the npm `oidc-provider`
// package (9.13.3) with its development login and consent pages.
//
//   node oidc.js <redirect_uri>
//
// Listens on an ephemeral 127.0.0.1 port and prints `listening <port>` once ready; the issuer
// is `http://127.0.0.1:<port>`. Clients (all confidential, client_secret_basic, PKCE S256,
// redirect URI <redirect_uri>): `tandem-oidc` / `oidc-secret`, `tandem-google` /
// `google-secret` and `tandem-discord` / `discord-secret`. Any login name signs in as that
// subject; the password is ignored.
//
// Test switch: `GET /__test/mode?set=<mode>` changes the ID token the token endpoint answers
// from then on, each time re-signed with the provider's own key so that exactly one check
// fails: `normal`, `tamper` (one signature byte flipped), `wrong_aud`, `wrong_nonce`,
// `wrong_iss`.
'use strict';

const crypto = require('crypto');
const http = require('http');
const { Provider } = require('oidc-provider');

const redirectUri = process.argv[2];
if (!redirectUri) {
  console.error('usage: node oidc.js <redirect_uri>');
  process.exit(2);
}

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' };

let mode = 'normal';

function b64(buf) {
  return Buffer.from(buf).toString('base64url');
}

function resign(token, change) {
  const [h, p] = token.split('.');
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  change(payload);
  const body = h + '.' + b64(JSON.stringify(payload));
  return body + '.' + b64(crypto.sign('sha256', Buffer.from(body), privateKey));
}

function mutate(token) {
  switch (mode) {
    case 'tamper': {
      const [h, p, s] = token.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[10] ^= 1;
      return h + '.' + p + '.' + b64(sig);
    }
    case 'wrong_aud':
      return resign(token, (c) => { c.aud = 'someone-else'; });
    case 'wrong_nonce':
      return resign(token, (c) => { c.nonce = 'not-the-nonce'; });
    case 'wrong_iss':
      return resign(token, (c) => { c.iss = 'http://127.0.0.1:1'; });
    default:
      return token;
  }
}

let handler = (req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handler(req, res));

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const client = (id, secret) => ({
    client_id: id,
    client_secret: secret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [
      client('tandem-oidc', 'oidc-secret'),
      client('tandem-google', 'google-secret'),
      client('tandem-discord', 'discord-secret'),
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    pkce: { required: () => true },
  });
  provider.use(async (ctx, next) => {
    if (ctx.path === '/__test/mode') {
      mode = String(ctx.query.set || 'normal');
      ctx.body = { mode };
      return;
    }
    await next();
    if (ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token) {
      ctx.body = { ...ctx.body, id_token: mutate(ctx.body.id_token) };
    }
  });
  handler = provider.callback();
  console.log('listening ' + port);
});
