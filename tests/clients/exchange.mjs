// A GitHub OAuth code-for-token exchange with the global fetch, for
// tests/integration/test_runtime_deno.py and test_runtime_bun.py. Nothing
// names a proxy or a CA: Deno and Bun read HTTPS_PROXY, and the CA from
// NODE_EXTRA_CA_CERTS (Deno) or it or SSL_CERT_FILE (Bun), all printed by
// oauthlens --env.
//
//   deno run -A exchange.mjs URL FORM  |  bun exchange.mjs URL FORM
//
// Prints one JSON object: status, headers [[name, value]...], body_b64,
// error.
const [url, form] = typeof Deno !== "undefined" ? Deno.args :
    process.argv.slice(2);
const out = { status: -1, headers: [], body_b64: "", error: null };
try {
	const r = await fetch(url, {
		method: "POST",
		body: form,
		headers: {
			"Accept": "application/json",
			"Content-Type": "application/x-www-form-urlencoded",
		},
	});
	out.status = r.status;
	for (const [k, v] of r.headers)
		out.headers.push([k, v]);
	const b = new Uint8Array(await r.arrayBuffer());
	let s = "";
	for (const x of b)
		s += String.fromCharCode(x);
	out.body_b64 = btoa(s);
} catch (e) {
	out.error = String(e) + (e.cause ? " (cause: " + String(e.cause) +
	    ")" : "");
}
console.log(JSON.stringify(out));
