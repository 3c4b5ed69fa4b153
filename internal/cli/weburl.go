package cli

import (
	"net/url"
	"os"
	"strings"

	"github.com/durablefuture/durablefuture/internal/web"
)

// webURLEnv names the address of a dfctl web that describe and the TUI
// link runs to (--web-url overrides it).
const webURLEnv = "DFCTL_WEB_URL"

// webBase is the base address of dfctl web for links: flag, else
// $DFCTL_WEB_URL; "" when neither is set. A token in its query is dropped:
// a link is for sharing.
func webBase(flag string) (string, error) {
	v := flag
	if v == "" {
		v = os.Getenv(webURLEnv)
	}
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageError("web URL %q ($%s or --web-url): give the address dfctl web printed, such as http://127.0.0.1:8080", v, webURLEnv)
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// webLink is the stable URL of a run's page under base (runID "": the
// latest run).
func webLink(base, workflowID, runID string) string {
	if base == "" {
		return ""
	}
	return base + web.RunPath(workflowID, runID)
}
