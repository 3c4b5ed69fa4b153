package cli

import (
	"runtime/debug"
	"testing"
)

// A test binary carries no dependencies in its build information, so the
// reading of a real binary's is checked on a made-up one.
func TestVersionFrom(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/durablefuture/durablefuture", Version: "v0.3.0"},
		Deps: []*debug.Module{
			{Path: "github.com/spf13/cobra", Version: "v1.10.2"},
			{Path: "github.com/nats-io/nats-server/v2", Version: "v2.12.1"},
			{Path: "github.com/nats-io/nats.go", Version: "v1.40.0", Replace: &debug.Module{Path: "../nats.go", Version: "v1.40.1-local"}},
		},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := versionFrom(bi, true)
	want := versionInfo{Version: "v0.3.0", Commit: "0123456789abcdef0123", Modified: true, Go: "go1.26.8",
		NATSServer: "v2.12.1", NATSGo: "v1.40.1-local"}
	if got != want {
		t.Fatalf("versionFrom = %+v, want %+v", got, want)
	}
	if s, w := got.String(), "dfctl v0.3.0 (commit 0123456789ab, modified), go1.26.8, nats-server v2.12.1, nats.go v1.40.1-local"; s != w {
		t.Fatalf("String() = %q, want %q", s, w)
	}

	none := versionFrom(nil, false)
	if none.Version != "(devel)" || none.Go == "" {
		t.Fatalf("versionFrom(nil) = %+v, want (devel) and the running Go", none)
	}
}
