// Baseline for bench/run.sh: node-oidc-provider (panva) configured as close to Gatehouse's
// client-credentials slice as it goes.
//
//   BASELINE_PORT        port on 127.0.0.1 (default 3000)
//   BASELINE_CLIENT_ID   static client id     (default bench)
//   BASELINE_CLIENT_SECRET static client secret (default bench-secret-...)
//
// - One static confidential client, client_secret_basic, grant client_credentials, scope api:read.
// - features.clientCredentials and features.introspection enabled.
// - features.resourceIndicators with one resource server, https://api.example, whose access
//   tokens are JWTs signed with ES256 (RFC 9068 profile). It is the default resource, so a
//   plain `grant_type=client_credentials&scope=api:read` request gets an ES256 JWT, as from
//   Gatehouse.
// - A second resource server, https://opaque.api.example, issues opaque tokens: oidc-provider
//   refuses to introspect JWT access tokens ("Structured JWT Tokens cannot be introspected"),
//   so the introspection benchmark introspects an opaque token obtained with
//   `resource=https://opaque.api.example`. Opaque tokens live in the default in-memory adapter.
// - Keys: one P-256 key (ES256, for access tokens) and one RSA-2048 key (RS256, the default
//   for ID tokens), generated at start, like Gatehouse's published JWKS (one of each).
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.BASELINE_PORT ?? 3000);
const clientId = process.env.BASELINE_CLIENT_ID ?? 'bench';
const clientSecret = process.env.BASELINE_CLIENT_SECRET ?? 'bench-secret-0123456789abcdefghijklmnop';
const issuer = `http://127.0.0.1:${port}`;

const JWT_RESOURCE = 'https://api.example';
const OPAQUE_RESOURCE = 'https://opaque.api.example';

function jwk(type, options, alg, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid };
}

const keys = [
  jwk('ec', { namedCurve: 'P-256' }, 'ES256', 'bench-es256'),
  jwk('rsa', { modulusLength: 2048 }, 'RS256', 'bench-rs256'),
];

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api:read',
    },
  ],
  jwks: { keys },
  scopes: ['api:read'],
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // The default policy, spelt out (which also silences its start-up notice): a public
      // client may introspect only its own tokens.
      allowedPolicy: async (ctx, client, token) => client.clientAuthMethod !== 'none'
        || token.clientId === ctx.oidc.client.clientId,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? JWT_RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resource) => {
        if (resource === JWT_RESOURCE) {
          return {
            scope: 'api:read',
            audience: JWT_RESOURCE,
            accessTokenTTL: 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        }
        if (resource === OPAQUE_RESOURCE) {
          return {
            scope: 'api:read',
            audience: OPAQUE_RESOURCE,
            accessTokenTTL: 3600,
            accessTokenFormat: 'opaque',
          };
        }
        throw new Provider.errors.InvalidTarget();
      },
    },
  },
});

// Quiet, as Gatehouse runs with GATEHOUSE_LOG=warn: no per-request logging.
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`baseline oidc-provider listening on ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
