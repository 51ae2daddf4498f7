#!/usr/bin/python3
"""One token exchange with a bad code from Python, the way an app does it,
with no proxy or CA in the code: only the environment oauthlens --env or
oauthlens run gives. Used by test_runtimes_cli.py.

    python3 runtime_py_client.py MODE '<json spec>'

MODE: urllib | requests | aiohttp (ClientSession(trust_env=True), as the
README says). spec: {"clientId", "clientSecret", "code", "redirectUri"}.
Prints one JSON object: {mode, status, header, error} or {mode, failure}.
"""

import json
import sys
import urllib.parse
import urllib.request

TOKEN_URL = "https://github.com/login/oauth/access_token"
HEADER = "OAuth-Troubleshooting"


def form(spec):
    return {"client_id": spec["clientId"],
            "client_secret": spec["clientSecret"], "code": spec["code"],
            "redirect_uri": spec["redirectUri"]}


def with_urllib(spec):
    req = urllib.request.Request(
        TOKEN_URL, data=urllib.parse.urlencode(form(spec)).encode(),
        headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return {"status": r.status, "header": r.headers.get(HEADER),
                "error": json.loads(r.read()).get("error")}


def with_requests(spec):
    import requests
    r = requests.post(TOKEN_URL, data=form(spec), timeout=30,
                      headers={"Accept": "application/json"})
    return {"status": r.status_code, "header": r.headers.get(HEADER),
            "error": r.json().get("error")}


def with_aiohttp(spec):
    import asyncio
    import aiohttp

    async def go():
        async with aiohttp.ClientSession(trust_env=True) as s:
            async with s.post(TOKEN_URL, data=form(spec),
                              headers={"Accept": "application/json"}) as r:
                body = await r.json()
                return {"status": r.status, "header": r.headers.get(HEADER),
                        "error": body.get("error")}
    return asyncio.run(go())


def main():
    mode, spec = sys.argv[1], json.loads(sys.argv[2])
    fn = {"urllib": with_urllib, "requests": with_requests,
          "aiohttp": with_aiohttp}[mode]
    try:
        out = fn(spec)
    except Exception as e:          # report, the test decides
        out = {"failure": "%s: %s" % (type(e).__name__, e)}
    out["mode"] = mode
    print(json.dumps(out))


if __name__ == "__main__":
    main()
