// A certified OpenID Connect provider (panva's oidc-provider) on loopback, for the
// sign-in tests: one client, the accounts and their claims read from a JSON file at
// every sign-in (so a test can change someone's groups), the provider's own login and
// consent pages. Settings come as JSON in OIDC_TEST_SETTINGS; the issuer is printed as
// one JSON line once the provider listens on its free port.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const settings = JSON.parse(process.env.OIDC_TEST_SETTINGS);
if (settings.clock_skew_seconds) {
  // the provider's clock set off from the machine's, for tokens that are already expired
  const realNow = Date.now;
  Date.now = () => realNow() + settings.clock_skew_seconds * 1000;
}

function account(id) {
  const accounts = JSON.parse(readFileSync(settings.accounts_file, 'utf8'));
  if (!Object.hasOwn(accounts, id)) return undefined;
  return { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) };
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const day = 24 * 3600;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: settings.client_id,
      client_secret: settings.client_secret,
      redirect_uris: settings.redirect_uris,
      post_logout_redirect_uris: settings.post_logout_redirect_uris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
    }],
    pkce: { required: () => true },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email'],
      groups: ['groups', 'clinic'],
    },
    // the profile, e-mail and group claims in the ID token itself, as hospital
    // providers are set up to send them
    conformIdTokenClaims: settings.claims_in_id_token === false,
    findAccount: async (ctx, id) => account(id),
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    cookies: { keys: ['loopback-only-cookie-key'] },
    ttl: {
      AccessToken: 3600, AuthorizationCode: 600, IdToken: 3600,
      Interaction: day, Session: day, Grant: day,
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});
