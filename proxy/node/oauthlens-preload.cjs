// oauthlens preload for Node (NODE_OPTIONS=--require <this file>, set by
// `oauthlens --env` and `oauthlens run`): sends global fetch and the
// http/https modules through the proxy named by HTTPS_PROXY/HTTP_PROXY,
// except for the hosts in NO_PROXY, on Node 18 and later. Built-in modules
// only; nothing is installed into the app.
//
// - fetch: Node's bundled undici reads its dispatcher from
//   globalThis[Symbol.for('undici.globalDispatcher.1')]; we put there an
//   undici Agent (the bundled class) whose connector opens a CONNECT
//   tunnel. Skipped where Node does it itself (NODE_USE_ENV_PROXY=1 on
//   22.21+ and 24.5+).
// - https: every https.Agent (the global one and those libraries make
//   themselves, which NODE_USE_ENV_PROXY does not cover) connects through
//   a CONNECT tunnel, then TLS to the origin as usual.
// - http: requests in absolute form to the proxy, as curl does.
// TLS trusts what Node trusts, NODE_EXTRA_CA_CERTS included.
'use strict';

(function oauthlensPreload() {
  const MARK = Symbol.for('oauthlens.preload');
  if (globalThis[MARK]) return;
  globalThis[MARK] = true;

  const env = process.env;
  const proxyUrl = env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY ||
    env.http_proxy;
  if (!proxyUrl) return;
  let proxy;
  try {
    proxy = new URL(proxyUrl);
  } catch {
    return;
  }
  if (proxy.protocol !== 'http:') return;

  const net = require('node:net');
  const tls = require('node:tls');
  const http = require('node:http');
  const https = require('node:https');

  const proxyHost = proxy.hostname.replace(/^\[(.*)\]$/, '$1');
  const proxyPort = Number(proxy.port) || 80;
  const proxyAuth = proxy.username ? 'Basic ' + Buffer.from(
    decodeURIComponent(proxy.username) + ':' +
    decodeURIComponent(proxy.password)).toString('base64') : null;
  const [major, minor] = process.versions.node.split('.').map(Number);
  const native = env.NODE_USE_ENV_PROXY === '1' && (major > 24 ||
    (major === 24 && minor >= 5) || (major === 22 && minor >= 21));
  // An agent Node proxies itself: the global ones under
  // NODE_USE_ENV_PROXY, and any made with a proxyEnv option.
  const nodeProxies = (agent) => native && !!(agent && agent.options &&
    agent.options.proxyEnv);

  // NO_PROXY as curl reads it: "*", host names (matching subdomains too,
  // with or without a leading dot), addresses, optional :port.
  const noProxy = (env.NO_PROXY || env.no_proxy || '').split(/[\s,]+/)
    .filter(Boolean).map((e) => {
      e = e.toLowerCase();
      let m = /^\[([^\]]*)\](?::(\d+))?$/.exec(e);
      if (m) return { host: m[1], port: Number(m[2]) || 0 };
      m = /^([^:]*):(\d+)$/.exec(e);
      if (m) return { host: m[1], port: Number(m[2]) };
      return { host: e, port: 0 };
    });

  function bypass(host, port) {
    host = String(host).toLowerCase().replace(/^\[(.*)\]$/, '$1');
    for (const e of noProxy) {
      if (e.host === '*') return true;
      if (e.port && e.port !== Number(port)) continue;
      const h = e.host.replace(/^\*?\./, '');
      if (host === h || (!net.isIP(host) && host.endsWith('.' + h)))
        return true;
    }
    return false;
  }

  function hostPort(host, port) {
    return (net.isIPv6(host) ? `[${host}]` : host) + ':' + port;
  }

  // A raw socket to host:port through the proxy, handed to cb once the
  // proxy has answered 200 to our CONNECT.
  function tunnel(host, port, cb) {
    const target = hostPort(host, port);
    const sock = net.connect(proxyPort, proxyHost);
    let head = Buffer.alloc(0);
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      sock.setTimeout(0);
      if (err) {
        sock.destroy();
        cb(err);
      } else {
        cb(null, sock);
      }
    };
    sock.setTimeout(30000, () =>
      finish(new Error(`proxy ${proxyUrl}: no answer to CONNECT ${target}`)));
    sock.once('error', finish);
    sock.once('connect', () => {
      sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n` +
        (proxyAuth ? `Proxy-Authorization: ${proxyAuth}\r\n` : '') +
        `User-Agent: node/${process.version}\r\n\r\n`);
    });
    sock.on('data', function onData(chunk) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 16384)
          finish(new Error(`proxy ${proxyUrl}: CONNECT answer too long`));
        return;
      }
      sock.removeListener('data', onData);
      sock.pause();
      const line = head.subarray(0, end).toString('latin1').split('\r\n')[0];
      if (!/^HTTP\/1\.[01] 2\d\d/.test(line)) {
        const e = new Error(`proxy ${proxyUrl} refused CONNECT ${target}: ` +
          line);
        e.code = 'ERR_OAUTHLENS_CONNECT';
        finish(e);
        return;
      }
      if (end + 4 < head.length) sock.unshift(head.subarray(end + 4));
      finish(null);
    });
  }

  // https: every Agent, through the tunnel. Node's Agent accepts a
  // socket given later to the callback of createConnection.
  const httpsCreate = https.Agent.prototype.createConnection;
  https.Agent.prototype.createConnection = function (options, cb) {
    const host = options.host || options.hostname || 'localhost';
    const port = Number(options.port) || 443;
    if (typeof cb !== 'function' || options.socket || options.path ||
        bypass(host, port) || nodeProxies(this))
      return httpsCreate.apply(this, arguments);
    tunnel(host, port, (err, raw) => {
      if (err) return cb(err);
      const opts = Object.assign({}, options, { socket: raw });
      if (!opts.servername && !net.isIP(host)) opts.servername = host;
      cb(null, tls.connect(opts));
    });
    return undefined;
  };

  // http: absolute-form requests to the proxy. Agents that are not plain
  // http.Agents (proxy agents, for one) are the app's business.
  function proxiedOptions(input, options, cb) {
    let opts;
    if (typeof input === 'string' || input instanceof URL) {
      const u = typeof input === 'string' ? new URL(input) : input;
      opts = {
        protocol: u.protocol, hostname: u.hostname, port: u.port,
        path: u.pathname + u.search,
      };
      if (u.username || u.password)
        opts.auth = decodeURIComponent(u.username) + ':' +
          decodeURIComponent(u.password);
      if (typeof options === 'function') {
        cb = options;
        options = undefined;
      }
      if (options) Object.assign(opts, options);
    } else {
      opts = Object.assign({}, input);
      if (typeof options === 'function') cb = options;
    }
    const agent = opts.agent;
    if ((opts.protocol && opts.protocol !== 'http:') || opts.socketPath ||
        opts.createConnection || typeof agent === 'function' ||
        (agent && agent.constructor !== http.Agent) ||
        nodeProxies(agent === undefined ? http.globalAgent : agent))
      return null;
    const host = String(opts.hostname || opts.host || 'localhost')
      .replace(/^\[(.*)\]$/, '$1');
    const port = Number(opts.port) || 80;
    if (bypass(host, port) || (host === proxyHost && port === proxyPort))
      return null;
    const authority = port === 80 ? (net.isIPv6(host) ? `[${host}]` : host) :
      hostPort(host, port);
    let headers = opts.headers;
    if (Array.isArray(headers)) {
      headers = headers.slice();
      if (proxyAuth) headers.push('Proxy-Authorization', proxyAuth);
    } else {
      headers = Object.assign({}, headers);
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'host'))
        headers.Host = authority;
      if (proxyAuth) headers['Proxy-Authorization'] = proxyAuth;
    }
    Object.assign(opts, {
      path: `http://${authority}${opts.path || '/'}`, headers,
      host: proxyHost, hostname: proxyHost, port: proxyPort,
    });
    return [opts, cb];
  }

  for (const name of ['request', 'get']) {
    const orig = http[name];
    http[name] = function (input, options, cb) {
      const p = proxiedOptions(input, options, cb);
      return p ? orig.call(this, p[0], p[1]) : orig.apply(this, arguments);
    };
  }

  // fetch: the bundled undici's own Agent class, with our connector.
  function connector(opts, cb) {
    const host = opts.hostname;
    const tlsOrigin = opts.protocol === 'https:';
    const port = Number(opts.port) || (tlsOrigin ? 443 : 80);
    const servername = opts.servername ||
      (net.isIP(host) ? undefined : host);
    const withTls = (raw) => {
      if (!tlsOrigin) return cb(null, raw);
      const s = tls.connect({ socket: raw, host, servername,
        ALPNProtocols: ['http/1.1'] });
      const onError = (e) => cb(e);
      s.once('error', onError);
      s.once('secureConnect', () => {
        s.removeListener('error', onError);
        cb(null, s);
      });
    };
    // Plain-http origins go direct: the dispatcher writes origin-form
    // requests, which only a tunnel could carry.
    if (!tlsOrigin || bypass(host, port)) {
      const raw = net.connect(port, host);
      const onError = (e) => cb(e);
      raw.once('error', onError);
      raw.once('connect', () => {
        raw.removeListener('error', onError);
        withTls(raw);
      });
      return;
    }
    tunnel(host, port, (err, raw) => (err ? cb(err) : withTls(raw)));
  }

  const DISPATCHER = Symbol.for('undici.globalDispatcher.1');
  if (!native && typeof globalThis.fetch === 'function') {
    // Node loads its undici on the first fetch call, which also sets the
    // global dispatcher: a data: URL loads it without any I/O.
    if (globalThis[DISPATCHER] === undefined) {
      const warn = process.emitWarning;
      process.emitWarning = () => {};   // Node 18's "experimental" notice
      try {
        globalThis.fetch('data:,').catch(() => {});
      } catch {
        // no fetch after all
      } finally {
        process.emitWarning = warn;
      }
    }
    const base = globalThis[DISPATCHER];
    if (base && typeof base.constructor === 'function') {
      try {
        globalThis[DISPATCHER] = new base.constructor({ connect: connector });
      } catch {
        // an undici without a connect option: leave fetch alone
      }
    }
  }

  try {
    require('node:module').syncBuiltinESMExports();
  } catch {
    // Node without it: CommonJS users are covered anyway
  }
})();
