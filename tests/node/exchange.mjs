// One OAuth web-flow code exchange with @octokit/oauth-methods, through an
// HTTP proxy with undici's ProxyAgent. Used by
// tests/integration/test_oauth_node.py.
//
//   node exchange.mjs '<json spec>'      (or the spec on stdin)
//
// spec: {
//   "clientId": "...", "clientSecret": "...", "code": "...",
//   "redirectUrl": "..." (optional),
//   "proxy": "http://127.0.0.1:PORT" (optional: direct without it),
//   "ca": ["/path/ca.pem", ...] (optional: trusted CAs for TLS to the origin),
//   "baseUrl": "https://api.github.com" (optional; GHES: "https://HOST/api/v3"),
//   "headers": {"accept-language": "en"} (optional, added to the request)
// }
//
// Prints one JSON object on stdout:
//   ok: true  -> status, headers, data, authentication
//   ok: false -> error: {name, message, status, headers, data}
// and always fetches: [{url, status, headers: [[name, value]...],
// body_sha256, body_b64}] for every HTTP exchange, as undici's fetch saw it
// (the body after content decoding, which fetch always does).
// Exit status 0 when the script ran (whatever the exchange's outcome), 2 on
// a usage error.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { exchangeWebFlowCode } from "@octokit/oauth-methods";
import { request } from "@octokit/request";
import { ProxyAgent, fetch as undiciFetch } from "undici";

function sha256(buf) {
  return createHash("sha256").update(buf).digest("hex");
}

let spec;
try {
  spec = JSON.parse(process.argv[2] ?? readFileSync(0, "utf8"));
} catch (e) {
  process.stderr.write(`exchange.mjs: bad spec: ${e.message}\n`);
  process.exit(2);
}

const ca = (spec.ca || []).map((p) => readFileSync(p, "utf8"));
const dispatcher = spec.proxy
  ? new ProxyAgent({
      uri: spec.proxy,
      requestTls: ca.length ? { ca } : undefined,
    })
  : undefined;

const fetches = [];
async function proxiedFetch(url, init) {
  const res = await undiciFetch(url, { ...init, dispatcher });
  const body = Buffer.from(await res.clone().arrayBuffer());
  fetches.push({
    url: String(url),
    status: res.status,
    headers: [...res.headers],
    body_sha256: sha256(body),
    body_b64: body.toString("base64"),
  });
  return res;
}

const req = request.defaults({
  baseUrl: spec.baseUrl || "https://api.github.com",
  headers: spec.headers || {},
  request: { fetch: proxiedFetch },
});

const out = { ok: false, fetches };
try {
  const r = await exchangeWebFlowCode({
    clientType: "oauth-app",
    clientId: spec.clientId,
    clientSecret: spec.clientSecret,
    code: spec.code,
    redirectUrl: spec.redirectUrl,
    request: req,
  });
  out.ok = true;
  out.status = r.status;
  out.headers = r.headers;
  out.data = r.data;
  out.authentication = {
    clientType: r.authentication.clientType,
    clientId: r.authentication.clientId,
    scopes: r.authentication.scopes,
    token: r.authentication.token,
  };
} catch (e) {
  out.error = {
    name: e?.name,
    message: String(e?.message ?? e),
    cause: e?.cause ? String(e.cause.message ?? e.cause) : undefined,
    status: e?.status,
    headers: e?.response?.headers,
    data: e?.response?.data,
  };
} finally {
  if (dispatcher) await dispatcher.close().catch(() => {});
}
process.stdout.write(JSON.stringify(out) + "\n");
