// One token exchange with a bad code, the way an app does it, with no
// proxy or CA configured in the code: only the environment that
// `oauthlens --env` / `oauthlens run` gives. Used by
// tests/integration/test_runtimes_node*.py.
//
//   node runtime_client.mjs MODE '<json spec>'
//
// MODE: fetch | https | http (plain http://github.com) | octokit | simple-oauth2 | got | openid-client |
//       oauth4webapi
// spec: {"clientId", "clientSecret", "code", "redirectUri"}
//
// Prints one JSON object: {mode, node, status, header, error} where
// header is the OAuth-Troubleshooting value the library let the app see
// (null when it hides the response), error the OAuth error code the app
// saw (or null), libraryError the library's own error code when it hides
// GitHub's, and failure a message when the exchange itself failed
// (network, TLS). Exit status 0 when it printed, 2 on a usage error.
import http from "node:http";
import https from "node:https";

const TOKEN_URL = "https://github.com/login/oauth/access_token";
const HEADER = "oauth-troubleshooting";

const [mode, specText] = process.argv.slice(2);
let spec;
try {
  spec = JSON.parse(specText);
} catch (e) {
  process.stderr.write(`runtime_client.mjs: bad spec: ${e.message}\n`);
  process.exit(2);
}
const form = {
  client_id: spec.clientId,
  client_secret: spec.clientSecret,
  code: spec.code,
  redirect_uri: spec.redirectUri,
};
const jsonHeaders = {
  accept: "application/json",
  "content-type": "application/x-www-form-urlencoded",
};

function httpsPost(mod = https, url = TOKEN_URL) {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const req = mod.request(url, {
      method: "POST",
      headers: { ...jsonHeaders, "content-length": Buffer.byteLength(body) },
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({
        status: res.statusCode,
        header: res.headers[HEADER] ?? null,
        body: JSON.parse(Buffer.concat(chunks).toString()),
      }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const modes = {
  async fetch() {
    const r = await fetch(TOKEN_URL, {
      method: "POST", headers: jsonHeaders, body: new URLSearchParams(form),
    });
    const body = await r.json();
    return { status: r.status, header: r.headers.get(HEADER), error:
      body.error ?? null };
  },
  async https() {
    const r = await httpsPost();
    return { status: r.status, header: r.header, error: r.body.error ?? null };
  },
  async http() {
    const r = await httpsPost(http, TOKEN_URL.replace("https:", "http:"));
    return { status: r.status, header: r.header, error: r.body.error ?? null };
  },
  async octokit() {
    const { exchangeWebFlowCode } = await import("@octokit/oauth-methods");
    try {
      await exchangeWebFlowCode({
        clientType: "oauth-app", clientId: spec.clientId,
        clientSecret: spec.clientSecret, code: spec.code,
        redirectUrl: spec.redirectUri,
      });
      return { error: null, header: null };
    } catch (e) {
      if (!e.response) throw e;
      return { status: e.status, header: e.response.headers[HEADER] ?? null,
        error: e.response.data?.error ?? null };
    }
  },
  async "simple-oauth2"() {
    // @hapi/wreck makes its own https.Agent: NODE_USE_ENV_PROXY alone
    // does not reach it.
    const { AuthorizationCode } = await import("simple-oauth2");
    const client = new AuthorizationCode({
      client: { id: spec.clientId, secret: spec.clientSecret },
      auth: { tokenHost: "https://github.com",
        tokenPath: "/login/oauth/access_token" },
      options: { authorizationMethod: "body" },
    });
    const t = await client.getToken({ code: spec.code,
      redirect_uri: spec.redirectUri });
    return { header: null, error: t.token?.error ?? null };
  },
  async got() {
    const { default: got } = await import("got");
    const r = await got.post(TOKEN_URL, { form, headers: {
      accept: "application/json" } });
    return { status: r.statusCode, header: r.headers[HEADER] ?? null,
      error: JSON.parse(r.body).error ?? null };
  },
  async "oauth4webapi"() {
    const oauth = await import("oauth4webapi");
    const as = { issuer: "https://github.com", token_endpoint: TOKEN_URL };
    const client = { client_id: spec.clientId };
    const cb = new URL(spec.redirectUri);
    cb.searchParams.set("code", spec.code);
    const params = oauth.validateAuthResponse(as, client, cb,
      oauth.skipStateCheck);
    const r = await oauth.authorizationCodeGrantRequest(as, client,
      oauth.ClientSecretPost(spec.clientSecret), params, spec.redirectUri,
      oauth.nopkce);
    const body = await r.clone().json();
    return { status: r.status, header: r.headers.get(HEADER),
      error: body.error ?? null };
  },
  async "openid-client"() {
    const oidc = await import("openid-client");
    const config = new oidc.Configuration({
      issuer: "https://github.com",
      authorization_endpoint: "https://github.com/login/oauth/authorize",
      token_endpoint: TOKEN_URL,
    }, spec.clientId, spec.clientSecret);
    const cb = new URL(spec.redirectUri);
    cb.searchParams.set("code", spec.code);
    try {
      await oidc.authorizationCodeGrant(config, cb);
      return { header: null, error: null };
    } catch (e) {
      // GitHub answers errors with status 200, which this library takes
      // for a success without access_token: the app sees only "invalid
      // response", neither the error code nor the header.
      if (e.code === "OAUTH_INVALID_RESPONSE")
        return { header: null, error: null, libraryError: e.code };
      throw e;
    }
  },
};

if (!modes[mode]) {
  process.stderr.write(`runtime_client.mjs: unknown mode ${mode}\n`);
  process.exit(2);
}
let out;
try {
  out = await modes[mode]();
} catch (e) {
  out = { header: null, error: null, failure: String(e?.message ?? e) +
    (e?.cause ? ` (cause: ${e.cause.message ?? e.cause})` : "") };
}
out.mode = mode;
out.node = process.version;
process.stdout.write(JSON.stringify(out) + "\n");
