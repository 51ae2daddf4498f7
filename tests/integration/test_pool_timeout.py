#!/usr/bin/python3
"""A pooled upstream connection gives the origin the whole timeouts.idle
for every exchange: the time it sat idle in the pool must not count.

idle = 3 s. One request pools a connection; 2.5 s later a request whose
answer takes 1 s reuses it and must get its 200, not a 504 after 0.5 s.

Client: raw socket (keep-alive). Origin: /echo, /slow, /conninfo."""

import time

import harness
from harness import ProxyTestCase


class PoolTimeout(ProxyTestCase):
    start_proxy = False

    def test_reused_connection_gets_full_idle_timeout(self):
        p = self.new_proxy({"timeouts": {"idle": 3}})
        c = self.raw(proxy=p)
        c.send(harness.http_request("GET", self.origin.url("/conninfo?a=1")))
        first = c.read_response()
        self.assertEqual(first.status, 200)
        time.sleep(2.5)
        t0 = time.monotonic()
        c.send(harness.http_request("GET",
                                    self.origin.url("/slow?delay=1")))
        r = c.read_response()
        dt = time.monotonic() - t0
        self.assertEqual(r.status, 200, "%r after %.2f s\n%s" %
                         (r, dt, p.tail()))
        self.assertGreaterEqual(dt, 0.9)
        # And it did reuse the pooled connection.
        c.send(harness.http_request("GET", self.origin.url("/conninfo?a=2")))
        again = c.read_response()
        self.assertEqual(again.json()["conn_id"], first.json()["conn_id"])


if __name__ == "__main__":
    harness.main()
