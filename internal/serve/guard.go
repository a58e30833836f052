package serve

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
)

// Browsers let any web page send requests to a server on this machine. Two
// guards keep such pages out:
//
//   - Host: a DNS-rebinding page reaches us under its own name (evil.example
//     resolving to 127.0.0.1), and the browser then lets it read every
//     answer as same-origin. Only loopback names and IP addresses are served
//     unless --allow-host names more; an IP literal cannot be rebound, since
//     the page's origin is then the address itself.
//   - Origin: a page elsewhere may still post a file here without a
//     preflight (a form, or fetch with a simple content type): the browser
//     hides the answer but the server would do the work. Cross-origin
//     requests are refused unless --cors trusts the origin; for a trusted
//     one preflights are answered and responses carry
//     Access-Control-Allow-Origin.

// allowedHost reports whether a Host header names this server: a loopback
// name, an IP address, or one of allow ("*" allows any).
func allowedHost(hostport string, allow []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	switch {
	case host == "":
		return true // HTTP/1.0 without Host: not a browser
	case host == "localhost", strings.HasSuffix(host, ".localhost"):
		return true // RFC 6761: always loopback, browsers never resolve it remotely
	case net.ParseIP(host) != nil:
		return true
	}
	for _, a := range allow {
		if a == "*" || strings.TrimSuffix(strings.ToLower(a), ".") == host {
			return true
		}
	}
	return false
}

// guard wraps the site with the Host check, cross-origin protection and
// CORS for trusted origins.
func (s *Server) guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	for _, o := range s.opts.CORSOrigins {
		// Options were checked in New; a bad origin here is a bug.
		if err := cop.AddTrustedOrigin(o); err != nil {
			panic(err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("cross-origin request from %q refused; start serve with --cors %s to allow it",
			r.Header.Get("Origin"), originOr(r.Header.Get("Origin"))))
	}))
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowedHost(r.Host, s.opts.AllowHosts) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("host %q is not served here; starid serve answers loopback names and IP "+
				"addresses; start it with --allow-host %s to answer this name", r.Host, hostOnly(r.Host)))
			return
		}
		origin := r.Header.Get("Origin")
		trusted := origin != "" && slices.Contains(s.opts.CORSOrigins, origin)
		if trusted {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			s.preflight(w, r, trusted)
			return
		}
		protected.ServeHTTP(w, r)
	})
}

// preflight answers a CORS preflight: permission for a trusted origin, a
// clear refusal for any other.
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, trusted bool) {
	if !trusted {
		origin := r.Header.Get("Origin")
		writeError(w, http.StatusForbidden, fmt.Sprintf("cross-origin requests from %q are not allowed; start serve with --cors %s to allow them",
			origin, originOr(origin)))
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

func originOr(origin string) string {
	if origin == "" || origin == "null" {
		return "ORIGIN"
	}
	return origin
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// checkOrigin validates a --cors value: scheme://host[:port], nothing more,
// which is what a browser sends in Origin.
func checkOrigin(o string) error {
	if err := http.NewCrossOriginProtection().AddTrustedOrigin(o); err != nil {
		return fmt.Errorf("CORS origin %q: want scheme://host[:port], as a browser sends it (e.g. https://app.example.com)", o)
	}
	return nil
}
