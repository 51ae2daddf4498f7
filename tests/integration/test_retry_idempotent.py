#!/usr/bin/python3
"""Retry only what may be retried (issue 14, item 5; RFC 9110 9.2.2).

A request sent on a reused pooled connection that the origin closes
without answering used to be sent again on a fresh connection, whatever
its method: a body-less POST (a token exchange with its parameters in the
query string) reached the origin twice, spending an OAuth code twice.

Client: raw socket, keep-alive: GET /conninfo pools an upstream
connection, then the request under test reuses it. Origin: /hangup reads
the request and closes (FIN) without answering.

Asserted: the POST reaches the origin once and the client gets 502 whose
reason says the request may have been processed; an idempotent GET in
the same situation is still retried once (two arrivals) before its 502.
"""

import harness
from harness import ProxyTestCase, SLOW, http_request


class RetryIdempotent(ProxyTestCase):

    def reused(self):
        """A client connection whose next request reuses a pooled
        upstream connection."""
        c = self.raw()
        c.send(http_request("GET", self.origin.url("/conninfo?warm=1")))
        self.assertEqual(c.read_response().status, 200)
        return c

    def arrivals(self, target):
        return [r for r in self.origin.requests_for("/hangup")
                if r["target"] == target]

    def test_post_not_sent_twice(self):
        target = "/hangup?code=c0de1&client_id=Iv1.x&kind=post"
        c = self.reused()
        c.send(http_request("POST", self.origin.url(target)))
        r = c.read_response()
        harness.wait_until(lambda: False, 0.5 * SLOW)
        self.assertEqual(len(self.arrivals(target)), 1,
                         "the POST reached the origin %d times" %
                         len(self.arrivals(target)))
        self.assertEqual(r.status, 502, r)
        self.assert_reason(r.body, "may have been processed",
                           "not sent again")

    def test_get_retried_once(self):
        target = "/hangup?kind=get"
        c = self.reused()
        c.send(http_request("GET", self.origin.url(target)))
        r = c.read_response()
        self.assertEqual(r.status, 502, r)
        harness.wait_until(lambda: len(self.arrivals(target)) >= 2,
                           5 * SLOW)
        self.assertEqual(len(self.arrivals(target)), 2)


if __name__ == "__main__":
    harness.main()
