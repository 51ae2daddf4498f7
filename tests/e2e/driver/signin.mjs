// Drives Debian's headless Chromium through a sign-in to the Next.js +
// Auth.js app (tests/e2e/nextauth) for tests/integration/
// test_e2e_nextauth.py. playwright-core only; the browser is
// /usr/bin/chromium (nothing is downloaded).
//
//   node signin.mjs '{"appUrl": "http://localhost:PORT",
//       "proxy": "http://127.0.0.1:PPORT", "userDataDir": DIR,
//       "home": DIR, "replay": true, "expectUntrusted": false,
//       "timeoutMs": 60000}'
//
// The browser reaches github.com only through the proxy (--proxy-server;
// loopback, where the app runs, is not proxied) and trusts oauthlens's CA
// through the NSS database in home/.pki/nssdb that the test made (or, for
// "expectUntrusted", does not).
//
// Steps: open the app, click "Sign in with GitHub", follow GitHub's
// authorize redirect back to the app's callback, and wait (bounded) for
// either the signed-in page or Auth.js's error page. With "replay", then
// send the callback URL again with the cookies the first callback carried
// (what a reload or a retried request does), so the app exchanges the
// same code a second time. With "expectUntrusted", stop once the
// browser's request to github.com has failed (githubFailure: its error).
//
// Prints one JSON line: {signedIn, signedInText, finalUrl, authorizeUrl,
// callbackUrl, replay: {finalUrl, status}, githubFailure, githubRequests,
// consoleErrors}, and "failure" if a step timed out or threw. Exits 0
// whenever it could print that; the test decides what is right.

import { chromium } from "playwright-core";

const spec = JSON.parse(process.argv[2]);
const timeout = spec.timeoutMs ?? 60000;
const out = { signedIn: false, githubRequests: [], consoleErrors: [] };

// The signed-in page, or Auth.js's error page (/api/auth/error?...).
function outcome(page) {
	return page.waitForFunction(
		() =>
			document.querySelector("#signed-in") !== null ||
			location.pathname.startsWith("/api/auth/error"),
		null,
		{ timeout },
	);
}

function cookiesOf(header) {
	return header
		.split(";")
		.map((c) => c.trim())
		.filter((c) => c.includes("="))
		.map((c) => {
			const i = c.indexOf("=");
			return { name: c.slice(0, i), value: c.slice(i + 1),
			    url: spec.appUrl };
		});
}

async function signIn(context, page) {
	let callbackCookies = null;
	const githubFailed = new Promise((resolve) => {
		page.on("requestfailed", (req) => {
			if (new URL(req.url()).hostname === "github.com")
				resolve(req.failure()?.errorText ?? "failed");
		});
	});
	page.on("console", (m) => {
		if (m.type() === "error") out.consoleErrors.push(m.text());
	});
	page.on("request", (req) => {
		const u = new URL(req.url());
		if (u.hostname.endsWith("github.com"))
			out.githubRequests.push(`${req.method()} ${u.origin}${u.pathname}`);
		if (u.pathname === "/login/oauth/authorize")
			out.authorizeUrl = req.url();
		if (u.pathname === "/api/auth/callback/github" && !out.callbackUrl) {
			out.callbackUrl = req.url();
			callbackCookies = req.allHeaders().then((h) => h.cookie ?? "");
		}
	});

	await page.goto(spec.appUrl, { waitUntil: "load" });
	await page.locator("#signed-out").waitFor();
	await page.locator("#sign-in").click();
	if (spec.expectUntrusted) {
		let timer;
		out.githubFailure = await Promise.race([githubFailed,
		    new Promise((resolve) => {
			timer = setTimeout(resolve, timeout, null);
		    })]);
		clearTimeout(timer);
		out.finalUrl = page.url();
		return;
	}
	await outcome(page);
	out.finalUrl = page.url();
	const signedIn = page.locator("#signed-in");
	if ((await signedIn.count()) > 0) {
		out.signedIn = true;
		out.signedInText = (await signedIn.innerText()).trim();
	} else {
		out.errorText = (await page.locator("body").innerText())
		    .slice(0, 500);
	}
	if (!spec.replay || !out.callbackUrl)
		return;
	// The cookies the first callback carried (the PKCE verifier among
	// them, which Auth.js deleted once it was used), then the same URL.
	const cookies = cookiesOf(await callbackCookies);
	out.replayCookieNames = cookies.map((c) => c.name).sort();
	await context.addCookies(cookies);
	const resp = await page.goto(out.callbackUrl, { waitUntil: "load" });
	await outcome(page);
	out.replay = { finalUrl: page.url(), status: resp?.status() ?? null };
}

const context = await chromium.launchPersistentContext(spec.userDataDir, {
	executablePath: spec.executablePath ?? "/usr/bin/chromium",
	headless: true,
	chromiumSandbox: false,
	env: { ...process.env, HOME: spec.home },
	timeout,
	args: [
		"--headless",
		"--no-sandbox",
		"--disable-gpu",
		"--disable-quic",
		"--no-first-run",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		`--proxy-server=${spec.proxy}`,
	],
});
try {
	const page = context.pages()[0] ?? (await context.newPage());
	page.setDefaultTimeout(timeout);
	await signIn(context, page);
} catch (e) {
	out.failure = String(e?.stack ?? e).slice(0, 2000);
} finally {
	await context.close();
}
console.log(JSON.stringify(out));
