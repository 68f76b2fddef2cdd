package native

import (
	"fmt"
	"github.com/ailidani/paxi-style/paxi"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// PortOffset is the distance from a node's REST port to its native port
// under the convention AddrFor implements: paxi.Config.SetLocal's.
const PortOffset = paxi.NativePortOffset

// AddrFor returns the native protocol's host:port for the node whose REST
// API is at httpURL: the same host, the REST port plus PortOffset (REST on
// 8081 gives native on 9081). It is the one place this convention lives;
// it is the fallback for nodes known only by a REST URL (-endpoints); a
// configuration names native addresses itself (native_address).
func AddrFor(httpURL string) (string, error) {
	raw := httpURL
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("native: address for %q: %w", httpURL, err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			return "", fmt.Errorf("native: address for %q: no port", httpURL)
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 {
		return "", fmt.Errorf("native: address for %q: bad port %q", httpURL, port)
	}
	if p == 0 || p+PortOffset > 65535 {
		return "", fmt.Errorf("native: address for %q: port %d has no native port (REST port + %d must be in 1..65535)", httpURL, p, PortOffset)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+PortOffset)), nil
}
