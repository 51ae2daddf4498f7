// A Go net/http origin for the smuggling tests (issue 14): Go's chunked
// reader ends a chunk line at a bare LF, which RFC 9112 section 2.2
// allows, so it reads a body differently from a lenient proxy that
// relays the bytes it was sent. Every response names the request it
// answers, so a client can tell whether it got someone else's.
//
// Usage: go_origin (prints "port N" on stdout once listening).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

var served int64

func handler(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	// ?delay=1s: answer late, so that a smuggled request's response
	// arrives after its connection went back to the proxy's pool.
	if d, derr := time.ParseDuration(r.URL.Query().Get("delay")); derr == nil {
		time.Sleep(d)
	}
	n := atomic.AddInt64(&served, 1)
	// One line per request the origin read: the test checks that no
	// smuggled request ever reached it.
	fmt.Fprintf(os.Stderr, "request %d %s %s %q\n", n, r.Method,
		r.URL.Path, body)
	reply := map[string]interface{}{
		"method":   r.Method,
		"path":     r.URL.Path,
		"query":    r.URL.RawQuery,
		"body":     string(body),
		"trailers": r.Trailer,
		"remote":   r.RemoteAddr,
		"served":   n,
	}
	if err != nil {
		reply["error"] = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(reply)
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("port %d\n", ln.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	http.Serve(ln, http.HandlerFunc(handler))
}
