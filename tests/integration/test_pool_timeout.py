#!/usr/bin/python3
"""A pooled upstream connection gives the origin the whole timeouts.idle
for every exchange: the time it sat idle in the pool must not count.

idle = 8 s. One request pools a connection; 4 s later a request whose
answer takes 6 s reuses it and must get its 200, not a 504 after 4 s.
Every margin is 2 s or more (a loaded machine, an ASan build): the wait
in the pool and the answer each stay 2 s or more under the timeout, and
a proxy counting the pool time would give its 504 2 s before the answer.

Client: raw socket (keep-alive). Origin: /echo, /slow, /conninfo."""

import time

import harness
from harness import ProxyTestCase

IDLE = 8        # timeouts.idle, s
POOLED = 4      # the connection's time in the pool, s
ANSWER = 6      # the origin's time to answer the second request, s


class PoolTimeout(ProxyTestCase):
    start_proxy = False

    def test_reused_connection_gets_full_idle_timeout(self):
        p = self.new_proxy({"timeouts": {"idle": IDLE}})
        c = self.raw(proxy=p)
        c.send(harness.http_request("GET", self.origin.url("/conninfo?a=1")))
        first = c.read_response()
        self.assertEqual(first.status, 200)
        time.sleep(POOLED)
        t0 = time.monotonic()
        c.send(harness.http_request("GET", self.origin.url(
            "/slow?delay=%d" % ANSWER)))
        r = c.read_response()
        dt = time.monotonic() - t0
        self.assertEqual(r.status, 200, "%r after %.2f s\n%s" %
                         (r, dt, p.tail()))
        self.assertGreaterEqual(dt, ANSWER - 0.1)
        # And it did reuse the pooled connection.
        c.send(harness.http_request("GET", self.origin.url("/conninfo?a=2")))
        again = c.read_response()
        self.assertEqual(again.json()["conn_id"], first.json()["conn_id"])


if __name__ == "__main__":
    harness.main()
