// A GitHub OAuth code-for-token exchange with Go's net/http (the
// DefaultClient, as golang.org/x/oauth2 uses it), for
// tests/integration/test_runtime_ruby_go.py. The transport reads
// HTTPS_PROXY and crypto/x509 reads SSL_CERT_FILE, both printed by
// oauthlens --env.
//
//	exchange URL FORM
//
// Prints one JSON object: status, headers [[name, value]...], body_b64,
// error.
package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

type result struct {
	Status  int        `json:"status"`
	Headers [][]string `json:"headers"`
	Body    string     `json:"body_b64"`
	Error   *string    `json:"error"`
}

func main() {
	out := result{Status: -1, Headers: [][]string{}}
	req, err := http.NewRequest("POST", os.Args[1],
		strings.NewReader(os.Args[2]))
	if err == nil {
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type",
			"application/x-www-form-urlencoded")
		c := &http.Client{Timeout: 30 * time.Second}
		var res *http.Response
		if res, err = c.Do(req); err == nil {
			defer res.Body.Close()
			out.Status = res.StatusCode
			for k, vs := range res.Header {
				for _, v := range vs {
					out.Headers = append(out.Headers,
						[]string{k, v})
				}
			}
			var b []byte
			b, err = io.ReadAll(res.Body)
			out.Body = base64.StdEncoding.EncodeToString(b)
		}
	}
	if err != nil {
		s := err.Error()
		out.Error = &s
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
