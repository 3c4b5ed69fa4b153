package cli_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

// dfctl version needs no server, and says which NATS libraries it links.
func TestVersion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A server that does not exist: version must not dial it.
	r := dfctl(t, ctx, false, "-s", "nats://127.0.0.1:1", "version", "-o", "json")
	expectCode(t, r, 0)
	v := decode[map[string]any](t, r.out)
	for _, k := range []string{"version", "commit", "go", "nats_server", "nats_go"} {
		if _, ok := v[k]; !ok {
			t.Errorf("version -o json has no %q: %s", k, r.out)
		}
	}
	if v["version"] == "" {
		t.Errorf("empty version: %s", r.out)
	}
	if v["go"] != runtime.Version() {
		t.Errorf("go = %v, want %s", v["go"], runtime.Version())
	}

	text := dfctl(t, ctx, false, "version")
	expectCode(t, text, 0)
	flag := dfctl(t, ctx, false, "--version")
	expectCode(t, flag, 0)
	if !strings.HasPrefix(text.out, "dfctl ") || text.out != flag.out {
		t.Errorf("dfctl version = %q, dfctl --version = %q: want the same line, starting with dfctl", text.out, flag.out)
	}
}
