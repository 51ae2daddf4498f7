#!/usr/bin/env python3
"""Write the seed corpora under tests/fuzz/corpus/<target>/.

Each seed is small and named for what it exercises. The http1 and inspect
targets read two leading bytes (options, split seed) before their payload;
see the comment at the top of each tests/fuzz/fuzz_<target>.c. Files this
script does not write (crash reproducers, inputs the fuzzer found) are left
alone; run it again after changing a seed here.
"""
import gzip
import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
TREE = os.path.dirname(os.path.dirname(HERE))


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def crlf(s):
    return s.replace("\n", "\r\n")


# ---- request_head: opts (bit 0 intercepted origin-form, bit 1 port
# 8443), split seed, then the client's bytes.

def req(name, text, opts=0, seed=7, raw=False):
    body = text if raw else crlf(text)
    if isinstance(body, str):
        body = body.encode()
    put("request_head", name, bytes([opts, seed]) + body)


TOKEN = "/login/oauth/access_token"
req("get-absolute", "GET http://example.com/a/b?q=1 HTTP/1.1\nHost: example.com\n"
    "User-Agent: curl/8\nAccept: */*\n\n")
req("post-token-length", f"POST http://github.com{TOKEN} HTTP/1.1\n"
    "Host: github.com\nContent-Type: application/x-www-form-urlencoded\n"
    "Accept-Encoding: gzip, deflate, br, zstd\nContent-Length: 43\n\n"
    "client_id=abc&client_secret=s3cret&code=xyz")
req("pipelined-three", "GET http://a.example/1 HTTP/1.1\nHost: a.example\n\n"
    "POST http://a.example/2 HTTP/1.1\nHost: a.example\nContent-Length: 3\n\nabc"
    "GET http://a.example/3 HTTP/1.1\nHost: a.example\n\n", seed=3)
req("chunked-ext-trailer", f"POST http://github.com{TOKEN} HTTP/1.1\n"
    "Host: github.com\nTransfer-Encoding: chunked\nTrailer: X-Sum\n\n"
    "5;ext=1;quoted=\"a;b\"\nhello\n0003\n, w\n0;last\nX-Sum: 9\n\n", seed=11)
req("chunked-pipelined", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: chunked\n\n1\na\n0\n\nGET http://h/next HTTP/1.1\n"
    "Host: h\n\n")
req("hop-by-hop", "GET http://example.com/ HTTP/1.1\nHost: example.com\n"
    "Connection: keep-alive, X-Private, close\nX-Private: 1\nKeep-Alive: 300\n"
    "Proxy-Connection: keep-alive\nTE: trailers\nTrailer: X\n"
    "Proxy-Authorization: Basic dTpw\nProxy-Authenticate: Basic\n"
    "Upgrade: h2c\nVia: 1.0 other\nX-Keep: yes\n\n")
req("hop-connection-list", "GET http://example.com/ HTTP/1.1\nHost: example.com\n"
    "Connection: ,, x-a ,\tx-b,\nConnection: x-c\nX-A: 1\nX-B: 2\nX-C: 3\n"
    "X-D: 4\n\n")
req("upgrade-websocket", "GET http://example.com/chat HTTP/1.1\n"
    "Host: example.com\nUpgrade: websocket\nConnection: Upgrade\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n"
    "\x81\x05hello")
req("upgrade-te-not-chunked", "GET http://e/ HTTP/1.1\nHost: e\nUpgrade: x\n"
    "Connection: Upgrade\nTransfer-Encoding: gzip\n\n")
req("connect", "CONNECT github.com:443 HTTP/1.1\nHost: github.com:443\n"
    "Proxy-Authorization: Basic dTpw\n\n\x16\x03\x01\x00\x05hello")
req("connect-no-port", "CONNECT github.com HTTP/1.1\nHost: github.com\n\n")
req("connect-with-length", "CONNECT h:443 HTTP/1.1\nContent-Length: 4\n\nabcd")
req("ipv6-target", "GET http://[::1]:8080/x HTTP/1.1\nHost: [::1]:8080\n\n")
req("ipv6-zone", "GET http://[fe80::1%25eth0]/ HTTP/1.1\nHost: x\n\n")
req("origin-form-intercepted", f"POST {TOKEN}?x=1 HTTP/1.1\nHost: github.com\n"
    "Accept-Encoding: br, gzip;q=1.0, zstd, x-gzip , deflate;q=0.5, *, identity\n"
    "Content-Type: application/x-www-form-urlencoded\nContent-Length: 7\n\n"
    "code=ab", opts=1)
req("origin-form-intercepted-8443", "GET /?q HTTP/1.1\nHost: evil\n"
    "Accept-Encoding: br\n\n", opts=3)
req("origin-form-local", "GET /oauthlens/status HTTP/1.1\nHost: localhost\n\n")
req("target-query-only", "GET http://h?q=1 HTTP/1.1\nHost: x\n\n")
req("target-fragment", "GET http://h/p#frag HTTP/1.1\n\n")
req("target-fragment-only", "GET http://h#frag HTTP/1.1\n\n")
req("target-userinfo", "GET http://user:pw@h/ HTTP/1.1\nHost: h\n\n")
req("target-https", "GET https://h/ HTTP/1.1\nHost: h\n\n")
req("target-port0", "GET http://h:0/ HTTP/1.1\nHost: h\n\n")
req("target-port-max", "GET http://h:65535/ HTTP/1.1\nHost: h\n\n")
req("target-port-over", "GET http://h:65536/ HTTP/1.1\nHost: h\n\n")
req("target-asterisk", "OPTIONS * HTTP/1.1\nHost: h\n\n")
req("host-mismatch-dup", "GET http://right.example/ HTTP/1.1\n"
    "Host: wrong.example\nHOST: other\nhost: third\n\n")
req("no-host-http10", "GET http://h/ HTTP/1.0\nConnection: keep-alive\n\n")
req("expect-continue", "PUT http://h/u HTTP/1.1\nHost: h\n"
    "Expect: 100-continue\nContent-Length: 2\n\nok")
req("leading-crlf", "\n\nGET http://h/ HTTP/1.1\nHost: h\n\n")
req("head-method", "HEAD http://h/ HTTP/1.1\nHost: h\n\n")
req("long-method", "PROPPATCH http://h/ HTTP/1.1\nHost: h\nContent-Length: 1\n\nx")
# Smuggling shapes: each must be refused or framed one way only.
req("smuggle-cl-te", "POST http://h/ HTTP/1.1\nHost: h\nContent-Length: 6\n"
    "Transfer-Encoding: chunked\n\n0\n\nX")
req("smuggle-te-cl", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: chunked\nContent-Length: 3\n\n8\nSMUGGLED\n0\n\n")
req("smuggle-dup-cl-same", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Content-Length: 3\nContent-Length: 3\n\nabc")
req("smuggle-dup-cl-diff", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Content-Length: 3\nContent-Length: 30\n\nabc")
req("smuggle-cl-list", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Content-Length: 3, 3\n\nabc")
req("smuggle-cl-plus", "POST http://h/ HTTP/1.1\nHost: h\nContent-Length: +3\n\nabc")
req("smuggle-cl-space-name", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Content-Length : 3\n\nabc")
req("smuggle-te-xchunked", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: xchunked\n\n0\n\n")
req("smuggle-te-tab", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding:\tchunked\n\n0\n\n")
req("smuggle-te-list", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: gzip, chunked\n\n0\n\n")
req("smuggle-te-not-last", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: chunked, identity\n\n0\n\n")
req("smuggle-te-two-fields", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: chunked\nTransfer-Encoding: identity\n\n0\n\n")
req("smuggle-te-case", "POST http://h/ HTTP/1.1\nHost: h\n"
    "tRaNsFeR-eNcOdInG: ChUnKeD\n\n0\n\n")
req("smuggle-te-http10", "POST http://h/ HTTP/1.0\nHost: h\n"
    "Transfer-Encoding: chunked\n\n0\n\n")
req("smuggle-obs-fold", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: identity\n chunked\n\n0\n\n")
req("smuggle-bare-lf", b"\x00\x07GET http://h/ HTTP/1.1\nHost: h\n\n", raw=True)
req("smuggle-bare-lf-mid", b"\x00\x07GET http://h/ HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
    raw=True)
req("smuggle-bare-cr", b"\x00\x07GET http://h/ HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
    raw=True)
req("smuggle-nul-in-value", b"\x00\x07GET http://h/ HTTP/1.1\r\nX: a\x00b\r\n\r\n",
    raw=True)
req("smuggle-connection-te", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Connection: close\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n")
req("chunk-size-overflow", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: chunked\n\nffffffffffffffffff\nx\n")
req("chunk-size-bad", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: chunked\n\nzz\nx\n")
req("chunk-size-space", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: chunked\n\n3 \nabc\n0\n\n")
req("huge-cl", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Content-Length: 18446744073709551615\n\nab")
req("huge-cl-overflow", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Content-Length: 99999999999999999999\n\nab")
req("cl-leading-zeros", "POST http://h/ HTTP/1.1\nHost: h\nContent-Length: 0003\n\nabcGET")
req("cl-leading-zeros-long", "POST / HTTP/1.1\nContent-Length:"
    "000000400752841041378742\n\nl")
req("cl-zero", "POST http://h/ HTTP/1.1\nHost: h\nContent-Length: 0\n\n")
req("name-not-token", "GET http://h/ HTTP/1.1\nHost: h\nBad[Name]: v\n\n")
req("empty-value", "GET http://h/ HTTP/1.1\nHost: h\nX-Empty:\nX-Spaces:   \n\n")
req("utf8-value", "GET http://h/ HTTP/1.1\nHost: h\nX-Name: caf\u00e9 \u65e5\u672c\n\n")
many = "".join(f"X-H{i}: {i}\n" for i in range(126))
req("headers-126", "GET http://h/ HTTP/1.1\nHost: h\nAccept-Encoding: gzip\n"
    + many + "\n")
req("headers-129", "GET http://h/ HTTP/1.1\nHost: h\n" + many + "A: 1\nB: 2\n\n")
# A value that overflows what is left of the head writer's 8 KiB buffer,
# and one longer than the buffer (this also raises libFuzzer's max_len).
req("long-values", "POST http://h/ HTTP/1.1\nHost: h\nX-A: " + "a" * 4500 +
    "\nX-B: " + "b" * 4000 + "\nX-C: " + "c" * 8500 +
    "\nContent-Length: 1\n\nx")
req("http09-ish", "GET /\n\n")
req("version-2", "GET http://h/ HTTP/2.0\nHost: h\n\n")

# ---- response_framing: opts (bit 0 HEAD, bits 1-3 flags, bit 4 extra
# line), split seed, then the origin's bytes.


def resp(name, text, opts=0, seed=5, raw=False):
    body = text if raw else crlf(text)
    if isinstance(body, str):
        body = body.encode()
    put("response_framing", name, bytes([opts, seed]) + body)


ERR_JSON = ('{"error":"bad_verification_code","error_description":'
            '"The code passed is incorrect or expired.","error_uri":'
            '"https://docs.github.com/apps/managing-oauth-apps/troubleshooting'
            '-oauth-app-access-token-request-errors/#bad-verification-code"}')
resp("length", "HTTP/1.1 200 OK\nContent-Type: application/json\n"
     f"Content-Length: {len(ERR_JSON)}\n\n" + ERR_JSON, opts=0x10)
resp("length-keepalive-two", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"
     "HTTP/1.1 404 Not Found\nContent-Length: 0\n\n", opts=4)
resp("chunked-ext-trailers", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n"
     "Trailer: X-Checksum\n\n4;name=val;q=\"x y\"\nWiki\n5\npedia\n"
     "E\n in\n\nchunks.\n0;end\nX-Checksum: abc\nX-Other: 1\n\n", seed=9)
resp("chunked-dechunk", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n"
     "Connection: keep-alive\n\n3\nabc\n0\n\n", opts=6)
resp("chunked-upper-hex", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
     "A\n0123456789\n0\n\n")
resp("chunked-no-final", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
     "3\nabc\n")
resp("chunk-size-overflow", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
     "fffffffffffffffff\nabc\n")
resp("chunk-size-bad", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
     "-1\nabc\n")
resp("chunk-data-no-crlf", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
     "3\nabcX\n0\n\n")
resp("eof-http10", "HTTP/1.0 200 OK\nContent-Type: text/plain\n\nuntil close")
resp("eof-close", "HTTP/1.1 200 OK\nConnection: close\n\nuntil close")
resp("eof-te-gzip", "HTTP/1.1 200 OK\nTransfer-Encoding: gzip\n\nraw bytes")
resp("te-chunked-not-last", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked, gzip\n\n"
     "3\nabc\n0\n\n")
resp("te-gzip-chunked", "HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\n"
     "3\nabc\n0\n\n")
resp("cl-te", "HTTP/1.1 200 OK\nContent-Length: 3\nTransfer-Encoding: chunked\n\n"
     "3\nabc\n0\n\n")
resp("dup-cl", "HTTP/1.1 200 OK\nContent-Length: 3\nContent-Length: 4\n\nabcd")
resp("cl-short-body", "HTTP/1.1 200 OK\nContent-Length: 100\n\nonly this")
resp("cl-leading-zeros-21-digits", "HTTP/1.1 200 OK\nContent-Length:"
     "018446372036854775807\n\nab")
resp("cl-huge", "HTTP/1.1 200 OK\nContent-Length: 18446744073709551614\n\nab")
resp("head-with-length", "HTTP/1.1 200 OK\nContent-Length: 1234\n\n"
     "HTTP/1.1 200 OK\nContent-Length: 1\n\nx", opts=1)
resp("head-with-chunked", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n",
     opts=1)
resp("no-content-204", "HTTP/1.1 204 No Content\nContent-Length: 5\n\n"
     "HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
resp("not-modified-304", "HTTP/1.1 304 Not Modified\nContent-Length: 10\n"
     "Transfer-Encoding: chunked\n\n")
resp("interim-100-then-200", "HTTP/1.1 100 Continue\n\n"
     "HTTP/1.1 103 Early Hints\nLink: </s.css>; rel=preload\n\n"
     "HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
resp("switching-101", "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n"
     "Connection: Upgrade\nSec-WebSocket-Accept: x\n\n\x81\x02hi")
resp("hop-by-hop", "HTTP/1.1 200 OK\nConnection: X-Private, keep-alive\n"
     "X-Private: 1\nKeep-Alive: timeout=5\nProxy-Connection: close\n"
     "Proxy-Authenticate: Basic\nTrailer: X\nTE: trailers\nUpgrade: h2c\n"
     "Content-Length: 0\n\n", opts=0x12)
resp("gzip-body", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
     b"Content-Length: %d\r\n\r\n" % len(gzip.compress(ERR_JSON.encode(), mtime=0))
     + gzip.compress(ERR_JSON.encode(), mtime=0), raw=True)
resp("long-values", "HTTP/1.1 200 OK\nX-A: " + "a" * 4500 + "\nX-B: " +
     "b" * 4000 + "\nX-C: " + "c" * 8500 + "\nContent-Length: 1\n\nx",
     opts=0x10)
resp("status-999", "HTTP/1.1 999 Weird\nContent-Length: 1\n\nx")
resp("no-reason", "HTTP/1.1 200\nContent-Length: 0\n\n")
resp("obs-fold", "HTTP/1.1 200 OK\nX: a\n b\nContent-Length: 0\n\n")
resp("bare-lf", b"\x00\x05HTTP/1.1 200 OK\nContent-Length: 0\n\n", raw=True)
resp("leading-crlf", "\nHTTP/1.1 200 OK\nContent-Length: 0\n\n")

# ---- inspect: opts (bits 0-1 type: form, json, xml, +json; bits 2-4
# coding; bits 5-6 max_bytes; bit 7 use after finish), split seed, body.

FORM, JSON, XML, PJSON = 0, 1, 2, 3
IDENT, GZ_RAW, DEFL_RAW, GZ, ZLIB, RAWDEFL, GZ2, IDENT_NAMED = range(8)
MAX64K, MAX16, MAX256, MAX4K = 0, 1, 2, 3


def insp(name, body, fmt=FORM, coding=IDENT, mx=MAX64K, again=0, seed=13):
    if isinstance(body, str):
        body = body.encode()
    opts = fmt | coding << 2 | mx << 5 | again << 7
    put("inspect", name, bytes([opts, seed]) + body)


FORM_ERR = ("error=bad_verification_code&error_description=The+code+passed+is"
            "+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com%2F"
            "apps%2Fmanaging-oauth-apps%2Ftroubleshooting-oauth-app-access-token"
            "-request-errors%2F%23bad-verification-code")
XML_ERR = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OAuth><error>"
           "bad_verification_code</error><error_description>The code passed is "
           "incorrect or expired.</error_description><error_uri>https://docs."
           "github.com/x</error_uri></OAuth>")
JP = "\u8a8d\u53ef\u30b3\u30fc\u30c9\u304c\u6b63\u3057\u304f\u3042\u308a\u307e\u305b\u3093"
insp("form-error", FORM_ERR)
insp("form-token", "access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&"
     "scope=repo%2Cgist&token_type=bearer")
insp("form-dup-keys", "error=a&error=&error_description=x&error=last&&=&novalue")
insp("form-bad-escape", "error=%zz")
insp("form-escape-at-end", "error=abc%4")
insp("form-nul", "error=a%00b")
insp("form-long-utf8", "error_description=" + JP * 8 + "&error=e")
insp("form-long-key", "e" * 70 + "=1&error=x")
insp("form-again", FORM_ERR, again=1)
insp("form-max16", FORM_ERR, mx=MAX16)
insp("json-error", ERR_JSON, fmt=JSON)
insp("json-plus", ERR_JSON, fmt=PJSON, seed=1)
insp("json-token", '{"access_token":"gho_x","token_type":"bearer","scope":""}',
     fmt=JSON)
insp("json-escapes", '{"error":"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00",'
     '"error_description":"\\u65e5\\u672c"}', fmt=JSON)
insp("json-mismatched-surrogates", '{"error":"\\ud800\\u0041"}', fmt=JSON)
insp("json-nul-escape", '{"error":"a\\u0000b"}', fmt=JSON)
insp("json-bad-utf8", b'{"error":"\xc3\x28","error_description":"\xed\xa0\x80"}',
     fmt=JSON)
insp("json-nested-error", '{"x":{"error":"inner"},"error":["no"],'
     '"error_description":{"a":1},"error":"outer"}', fmt=JSON)
insp("json-deep-32", "[" * 31 + '{"error":"d"}' + "]" * 31, fmt=JSON)
insp("json-deep-33", "[" * 33 + "]" * 33, fmt=JSON)
insp("json-deep-200", "[" * 200 + "]" * 200, fmt=JSON)
insp("json-huge-numbers", '{"a":1e999999,"b":-123456789012345678901234567890,'
     '"c":0.000000000000000000001,"d":-0,"error":"n"}', fmt=JSON)
insp("json-long-desc", '{"error_description":"' + JP * 8 + '","error":"e"}',
     fmt=JSON)
insp("json-trailing", '{"error":"x"} {"error":"y"}', fmt=JSON)
insp("json-truncated", '{"error":"x', fmt=JSON)
insp("json-not-object", '"error"', fmt=JSON)
insp("json-empty", "", fmt=JSON)
insp("xml-error", XML_ERR, fmt=XML)
insp("xml-doctype", '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">'
     '<!ENTITY b "&a;&a;&a;&a;">]><r><error>&b;</error></r>', fmt=XML)
insp("xml-doctype-system", '<!DOCTYPE r SYSTEM "file:///etc/passwd"><r/>', fmt=XML)
insp("xml-cdata-refs", "<r><error><![CDATA[x<y]]>&amp;&#x1F600;&#233;</error>"
     "<error_description>a<b>nested</b>c</error_description></r>", fmt=XML)
insp("xml-bad-charref", "<r><error>&#xD800;</error></r>", fmt=XML)
insp("xml-bad-utf8", b"<r><error>\xff\xfe</error></r>", fmt=XML)
insp("xml-latin1", b'<?xml version="1.0" encoding="ISO-8859-1"?><r><error>caf\xe9'
     b"</error></r>", fmt=XML)
insp("xml-utf16", '<?xml version="1.0" encoding="UTF-16"?><r><error>x</error></r>'
     .encode("utf-16"), fmt=XML)
insp("xml-namespaces", '<o:r xmlns:o="urn:x"><error>e</error><o:error>n</o:error>'
     "</o:r>", fmt=XML)
insp("xml-long-desc", "<r><error_description>" + JP * 8 + "</error_description></r>",
     fmt=XML)
insp("xml-deep", "<a>" * 100 + "</a>" * 100, fmt=XML)
insp("xml-unclosed", "<r><error>x</error>", fmt=XML)
insp("gzip-json-raw", gzip.compress(ERR_JSON.encode(), mtime=0), fmt=JSON,
     coding=GZ_RAW)
insp("gzip-form-raw", gzip.compress(FORM_ERR.encode(), mtime=0), coding=GZ_RAW)
insp("gzip-two-members-raw", gzip.compress(b'{"error":', mtime=0) +
     gzip.compress(b'"two"}', mtime=0), fmt=JSON, coding=GZ_RAW)
insp("gzip-truncated-raw", gzip.compress(ERR_JSON.encode(), mtime=0)[:-6],
     fmt=JSON, coding=GZ_RAW)
insp("gzip-trailing-garbage-raw", gzip.compress(b"error=x", mtime=0) + b"junk",
     coding=GZ_RAW)
insp("gzip-bomb-raw", gzip.compress(b" " * 200000, mtime=0), fmt=JSON,
     coding=GZ_RAW, mx=MAX4K)
insp("zlib-xml-raw", zlib.compress(XML_ERR.encode()), fmt=XML, coding=DEFL_RAW)
co = zlib.compressobj(wbits=-15)
insp("rawdeflate-json-raw", co.compress(ERR_JSON.encode()) + co.flush(), fmt=JSON,
     coding=DEFL_RAW)
insp("deflate-one-byte-raw", b"\x78", fmt=JSON, coding=DEFL_RAW)
insp("gzip-json", ERR_JSON, fmt=JSON, coding=GZ)
insp("zlib-form", FORM_ERR, coding=ZLIB)
insp("rawdeflate-xml", XML_ERR, fmt=XML, coding=RAWDEFL)
insp("gzip-two-members", ERR_JSON, fmt=PJSON, coding=GZ2)
insp("identity-named", FORM_ERR, coding=IDENT_NAMED)
insp("gzip-max256", ERR_JSON * 3, fmt=JSON, coding=GZ, mx=MAX256)

# ---- config: the bytes are a config file and a catalog.

put("config", "oauthlens.conf", open(os.path.join(TREE, "conf/oauthlens.conf"),
                                     "rb").read())
put("config", "empty-object", "{}")
put("config", "empty-file", "")
put("config", "all-keys", """{
  /* every key */ "listen": ["127.0.0.1:0", "[::1]:8080"],
  "allow": ["10.0.0.0/8", "::/0", "192.168.1.1"],
  "connect_ports": [443, 8443, 1, 65535],
  "resolve": ["github.com:443:127.0.0.1:8443", "x:1:[::1]:2"],
  "intercept": ["*.example.com", "github.com"],
  "token_endpoints": ["github.com"],
  "certs": "/nonexistent", "upstream_ca": "", "upstream_proxy": "h:1",
  "header_name": "X-Hint", "lang": "auto", "log_format": "json",
  "log_level": "debug", "log_target": "stderr",
  "ca_name_constraints": false, "max_connections": 1000000,
  "inspect_max_bytes": 1024,
  "timeouts": {"connect": 0.001, "header": 86400, "idle": 1.5, "drain": 10}
}""")
put("config", "unknown-key", '{\n  "listen": ["127.0.0.1:8080"],\n  "bogus": 1\n}')
put("config", "wrong-types", '{"listen": "127.0.0.1:80", "lang": 1}')
put("config", "bad-hostport", '{"listen": [\n\n   "nope"]}')
put("config", "bad-cidr", '{"allow": ["10.0.0.0/33"]}')
put("config", "bad-resolve", '{"resolve": ["a:1:b:2"]}')
put("config", "bad-port", '{"connect_ports": [0]}')
put("config", "bad-timeout", '{"timeouts": {"connect": 0, "x": 1}}')
put("config", "bad-header-name", '{"header_name": "a b"}')
put("config", "huge-numbers", '{"max_connections": 1e309, '
    '"inspect_max_bytes": 123456789012345678901234567890}')
put("config", "fraction", '{"max_connections": 1.5}')
put("config", "negative-zero", '{"max_connections": -0}')
put("config", "duplicate-key", '{"lang": "ja",\n "lang": "en"}')
put("config", "nul-string", '{"certs": "a\\u0000b"}')
put("config", "bad-utf8", b'{"certs": "\xff"}')
put("config", "comments-only", "// nothing\n/* more */")
put("config", "unterminated-comment", '{"lang": "ja"} /* open')
put("config", "trailing-garbage", '{"lang": "ja"} x')
put("config", "deep", "[" * 40 + "]" * 40)
put("config", "deep-32", '{"a":' * 31 + "1" + "}" * 31)
put("config", "not-object", '["listen"]')
put("config", "messages-self", '{"messages": "oauthlens.conf"}')
put("config", "messages-missing", '{"messages": "nope.json"}')
put("config", "catalog-minimal", """{
 "incorrect_client_credentials": {"ja": {"title": "t", "hint": "h",
   "doc": "https://d"}, "en": {"title": "t", "hint": "h", "doc": "https://d"}},
 "redirect_uri_mismatch": {"ja": {"title": "t", "hint": "h", "doc": "https://d"},
   "en": {"title": "t", "hint": "h", "doc": "https://d"}},
 "bad_verification_code": {"ja": {"title": "t", "hint": "h", "doc": "https://d"},
   "en": {"title": "t", "hint": "h", "doc": "https://d"}}
}""")
put("config", "catalog-bad-doc", '{"x": {"ja": {"title": "t", "hint": "h", '
    '"doc": "http://d"}}}')
put("config", "catalog-unknown-lang", '{"x": {"fr": {}}}')
put("config", "catalog-missing-lang", '{"x": {"ja": {"title": "t", "hint": "h", '
    '"doc": "https://d"}}}')
put("config", "crlf-lines", '{\r\n"lang":\r\n  "xx"\r\n}')
put("config", "tabs-position", '{\t"lang":\t5}')

# ---- sfv: raw bytes, whole and cut at NULs into annotation pieces.

put("sfv", "ascii", "The code passed is incorrect or expired.")
put("sfv", "japanese", JP)
put("sfv", "emoji", "\U0001F600 ok")
put("sfv", "percent-quote", '100% "quoted"')
put("sfv", "controls", "a\tb\nc\x7fd")
put("sfv", "invalid-utf8", b"\xff\xfe")
put("sfv", "overlong", b"\xc0\xaf")
put("sfv", "surrogate", b"\xed\xa0\x80")
put("sfv", "above-max", b"\xf4\x90\x80\x80")
put("sfv", "truncated", b"caf\xc3")
put("sfv", "display-ok", '%"caf%c3%a9 %22x%22 %25"')
put("sfv", "display-empty", '%""')
put("sfv", "display-upper-hex", '%"%C3%A9"')
put("sfv", "display-bad-utf8", '%"%ff"')
put("sfv", "display-trailing", '%"a"b')
put("sfv", "display-unterminated", '%"abc')
put("sfv", "display-short-escape", '%"%4"')
put("sfv", "display-raw-nonascii", b'%"\xc3\xa9"')
put("sfv", "annotation", b"bad_verification_code\0en\0" + JP.encode() +
    b"\0https://docs.github.com/x\0cause\0upstream\0*k\0t:1/2")
put("sfv", "annotation-dup-key", b"c\0ja\0h\0d\0k\0t\0k\0u")
put("sfv", "annotation-reserved-key", b"c\0ja\0h\0d\0lang\0en")
put("sfv", "annotation-bad-token", b"1c\0ja\0h\0d")
put("sfv", "annotation-bad-string", b"c\0ja\0h\0d\x7f")
put("sfv", "integer-max", b"\x00\x03\x8d\x7e\xa4\xc6\x7f\xff")
put("sfv", "integer-min", b"\xff\xfc\x72\x81\x5b\x39\x80\x01")
put("sfv", "key-chars", "*a-b_c.d*9")
put("sfv", "token-chars", "*tok:/!#$%&'*+-.^_`|~")
# Issue 14 item 7: a reason phrase with an escape sequence (replaced by
# the standard one), request targets with TAB/FF/8-bit bytes, and
# Transfer-Encoding shapes RFC 9112 6.1 calls faulty (all refused).
resp("reason-escape", "HTTP/1.1 200 O\x1b[2JK\nContent-Length: 0\n\n")
req("target-tab", "GET http://h/a\tb HTTP/1.1\nHost: h\n\n")
req("target-8bit", b"GET http://h/caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
    raw=True)
req("te-identity-chunked", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: identity, chunked\n\n0\n\n")
req("te-chunked-twice", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: chunked\nTransfer-Encoding: chunked\n\n0\n\n")
req("te-http10", "POST http://h/ HTTP/1.0\nHost: h\n"
    "Transfer-Encoding: chunked\n\n0\n\n")

# ---- chunked: opts (bit 0 a response body), split seed, the bytes after
# a chunked head. The attack shapes of issue 14 are refused (the target
# checks split and whole agree, and that what is accepted re-frames
# cleanly); they are seeds, not reproducers, since they pass.

def chunked(name, body, opts=0, seed=9):
    if isinstance(body, str):
        body = body.encode()
    put("chunked", name, bytes([opts, seed]) + body)


chunked("simple", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
chunked("simple-response", "5\r\nhello\r\n0\r\n\r\n", opts=1, seed=2)
chunked("ext-grammar", '5 ;a ; b = c;q="x\\"y;z" \t;n\r\nhello\r\n'
        '0;last=1\r\n\r\n')
chunked("leading-zeros-upper", "000A\r\n0123456789\r\nFf\r\n" + "x" * 255 +
        "\r\n0\r\n\r\n", seed=4)
chunked("trailers-dropped", "3\r\nabc\r\n0\r\nX-Sum: 9\r\n"
        "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
chunked("pipelined-after", "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n")
chunked("truncated", "a\r\nhello")
# Issue 14 item 1: what http-parser 2.9 took and Go reads differently.
chunked("attack-ext-bare-lf", "5;x\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n"
        "Host: h\r\n\r\n\r\nhello\r\n0\r\n\r\n")
chunked("attack-two-bytes-after-data", "5\r\nhelloXX0\r\n\r\n")
chunked("attack-trailer-bare-lf", "0\r\nX: a\nGET /s HTTP/1.1\r\n\r\n")
chunked("attack-trailer-fold", "0\r\nX: a\r\n folded\r\n\r\n")
chunked("attack-trailer-space-name", "0\r\nX Y: a\r\n\r\n")
chunked("attack-trailer-cl", "0\r\nContent-Length: 30\r\n\r\n"
        "GET /smuggled HTTP/1.1\r\n\r\n", opts=1)
# Issue 14 item 7.
chunked("size-trailing-space", "5 \r\nhello\r\n0\r\n\r\n")
chunked("ext-nul", b"5;a\x00b\r\nhello\r\n0\r\n\r\n")
chunked("size-overflow", "10000000000000000\r\n")
chunked("size-max", "ffffffffffffffff\r\nabc")
chunked("ext-obs-text", b'1;q="\xff\x80"\r\na\r\n0\r\n\r\n')

# ---- Reproducers of bugs the fuzzers found (named bug-*): each fails its
# replay test until the bug is fixed in proxy/.

# A bare CR line ends the head for http-parser, which then takes the bytes
# after it, still inside the head, as the body: the proxy sees no body but
# forwards Content-Length (or chunked), and the origin reads the next
# request as the body.
req("bug-bare-cr-ends-head-cl", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Content-Length: 3\n\r\n\nGET http://h/smuggled HTTP/1.1\nHost: h\n\n")
req("bug-bare-cr-ends-head-chunked", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Transfer-Encoding: chunked\n\r\r0\n\nGET http://h/smuggled HTTP/1.1\n"
    "Host: h\n\n")
resp("bug-bare-cr-ends-head", "HTTP/1.1 200 OK\nContent-Length: 3\n\r\n\n"
     "HTTP/1.1 200 OK\nContent-Length: 4\n\nEVIL")
# Connection naming a framing field removes it from the forwarded head:
# the body is forwarded, the origin (or client) sees none.
req("bug-connection-content-length", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Connection: content-length\nContent-Length: 32\n\n"
    "GET http://h/smuggled HTTP/1.1\n\n")
req("bug-connection-transfer-encoding", "POST http://h/ HTTP/1.1\nHost: h\n"
    "Connection: Transfer-Encoding\nTransfer-Encoding: chunked\n\n"
    "5\nhello\n0\n\n")
resp("bug-connection-content-length", "HTTP/1.1 200 OK\n"
     "Connection: content-length\nContent-Length: 4\n\nEVIL")
# http-parser does not see "chunked<TAB>" as chunked (close-delimited
# body) but the value is written back trimmed, as chunked: the client ends
# the message early and reads the rest as the next response.
resp("bug-te-chunked-tab", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\t\n\n"
     "3\nabc\n0\n\nHTTP/1.1 200 OK\nContent-Length: 4\n\nEVIL")
# A two-digit status code is accepted and relayed as "HTTP/1.1 20 OK".
resp("bug-status-two-digits", "HTTP/1.1 20 OK\nContent-Length: 0\n\n")
# Nothing checks that the inspector's strings are UTF-8: form values are
# percent-decoded bytes as they come, and yajl passes overlong forms,
# surrogates (raw or as a lone \uXXXX escape) and code points past U+10FFFF.
insp("bug-form-invalid-utf8", "error=%ff")
insp("bug-json-overlong", b'{"error":"\xc0\xaf"}', fmt=JSON)
insp("bug-json-surrogate-bytes", b'{"error":"\xed\xa0\x80"}', fmt=JSON)
insp("bug-json-lone-surrogate-escape", '{"error":"\\udc00"}', fmt=JSON)
# yajl takes \v and \f as whitespace, json.c's token_start does not: every
# position after one is off (the key here is reported at 1:2, not 1:3).
put("config", "bug-vt-whitespace-position", '{\v"lang": 5}')
put("config", "bug-ff-whitespace-position", '{"lang":\f5}')
# A number alone is only known to end at the end of the input, where yajl
# reports no bytes consumed: its position comes out as 1:1, not 1:3.
put("config", "bug-top-level-number-position", "  1")

# ---- diag: options byte, then NUL-separated pieces: authorize query,
# registered URL, sent redirect_uri, code query, denied query, code,
# code_verifier, refresh_token, client_id, client_secret, host.
def diag(name, opts=0, authq="", registered="", sent="", codeq="",
         deniedq="", code="", verifier="", refresh="", cid="Ov23liAAAA",
         secret="0123456789abcdef0123456789abcdef01234567",
         host="github.com"):
    pieces = [authq, registered, sent, codeq, deniedq, code, verifier,
              refresh, cid, secret, host]
    put("diag", name, bytes([opts]) + b"\0".join(
        x.encode() if isinstance(x, str) else x for x in pieces))


CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"   # RFC 7636 B
VERIFIER = "dBjftJeZ4CVP-mJ92K1Tk1obF6HhdyqJzNXBFAOq1Gw"
AUTHQ = ("client_id=Ov23liAAAA&redirect_uri=http%3A%2F%2Flocalhost%3A3000"
         "%2Fcb&state=st1&code_challenge=" + CHALLENGE +
         "&code_challenge_method=S256")
diag("scheme", registered="https://app.example.com/cb",
     sent="http://app.example.com/cb")
diag("host-loopback", registered="http://localhost:3000/cb",
     sent="http://127.0.0.1:3000/cb")
diag("port", registered="http://localhost:3000/cb",
     sent="http://localhost:5173/cb")
diag("path-subpath", registered="https://e.test/app/cb",
     sent="https://e.test/cb")
diag("allowed-subdomain", registered="https://e.test/cb",
     sent="https://a.e.test/cb/x")
diag("port-overflow", registered="http://h:99999999999999999999/cb",
     sent="http://h/cb")
diag("port-empty", registered="http://h:/cb", sent="http://h:80/cb")
diag("ipv6", registered="http://[::1]:3000/cb", sent="http://[::1]/cb")
diag("not-urls", registered="/cb", sent="cb://")
diag("pkce-ok", opts=0, authq=AUTHQ, codeq="code=c1&state=st1", code="c1",
     verifier=VERIFIER)
diag("pkce-wrong", opts=0, authq=AUTHQ, codeq="code=c1&state=st1",
     code="c1", verifier=VERIFIER[:-1] + "x")
diag("pkce-missing", opts=0, authq=AUTHQ, codeq="code=c1&state=st1",
     code="c1")
diag("pkce-plain-method", authq=AUTHQ.replace("S256", "plain"),
     codeq="code=c1&state=st1", code="c1", verifier="v")
diag("reused-after-success", opts=1, code="c2")
diag("refresh-rotated", opts=1 | 2, refresh="ghr_" + "a" * 36)
diag("refresh-failed-before", opts=2, refresh="ghr_" + "b" * 36)
diag("cancelled-undefined", authq="client_id=Ov23liAAAA&state=s9",
     deniedq="error=access_denied&state=s9", code="undefined")
diag("cancelled-empty", deniedq="error=access_denied", code="")
diag("secret-other-app", opts=1 | 4, code="c3", cid="Ov23liBBBB")
diag("other-host", opts=16, authq="client_id=Ov23liAAAA&state=s7",
     codeq="code=c4&state=s7", code="c4", host="ghe.example.test")
diag("browser", opts=8, code="c5")
diag("percent-junk", authq="state=%ff%00%&code_challenge=%zz&"
     "code_challenge_method=S256", codeq="code=%&state=", code="%")

print("corpus written under", CORPUS, file=sys.stderr)
