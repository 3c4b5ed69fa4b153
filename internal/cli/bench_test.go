package cli_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/testsrv"
)

// TestBenchShapes runs bench with every shape flag and --stats and checks
// that the figures say what ran.
func TestBenchShapes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := dfctl(t, ctx, false, "bench", "-n", "6", "-c", "3", "--activities", "2", "--parallel", "3",
		"--payload", "500", "--timers", "--stats", "-o", "json")
	expectCode(t, r, 0)
	rep := decode[map[string]any](t, r.out)
	for k, want := range map[string]any{
		"workflows": 6.0, "completed": 6.0, "failed": 0.0, "activities": 2.0, "parallel": 3.0,
		"payload_bytes": 500.0, "timers": true, "sync": "interval",
	} {
		if rep[k] != want {
			t.Errorf("bench: %s = %v, want %v", k, rep[k], want)
		}
	}
	for _, k := range []string{"workflows_per_sec", "activities_per_sec", "cpu_ms_per_workflow"} {
		if v, _ := rep[k].(float64); v <= 0 {
			t.Errorf("bench: %s = %v", k, rep[k])
		}
	}
	if wf, act := rep["workflows_per_sec"].(float64), rep["activities_per_sec"].(float64); act < 5.9*wf || act > 6.1*wf {
		t.Errorf("bench: %v activities/s for %v workflows/s of 6 activities each", act, wf)
	}
	for _, k := range []string{"go_version", "nats_server_version", "nats_go_version"} {
		if v, _ := rep[k].(string); v == "" {
			t.Errorf("bench: %s is empty", k)
		}
	}
	st, _ := rep["stats"].(map[string]any)
	if st == nil || st["source"] != "server" {
		t.Fatalf("bench --stats: stats = %v", rep["stats"])
	}
	// Each workflow's input alone carries 500 bytes to the server.
	if b, _ := st["client_to_server_bytes_per_workflow"].(float64); b < 500 {
		t.Errorf("bench --stats: %v bytes client to server per workflow, under the payload", b)
	}
	for _, k := range []string{"client_to_server_msgs_per_workflow", "server_to_client_msgs_per_workflow", "server_to_client_bytes_per_workflow"} {
		if v, _ := st[k].(float64); v <= 0 {
			t.Errorf("bench --stats: %s = %v", k, st[k])
		}
	}
	if m, sum := st["msgs_per_workflow"].(float64), st["client_to_server_msgs_per_workflow"].(float64)+st["server_to_client_msgs_per_workflow"].(float64); math.Abs(m-sum) > 1e-9 {
		t.Errorf("bench --stats: msgs_per_workflow %v is not the sum of both directions", m)
	}

	// Without --stats there is no stats object.
	r = dfctl(t, ctx, false, "bench", "-n", "2", "-c", "1", "-o", "json")
	expectCode(t, r, 0)
	if rep := decode[map[string]any](t, r.out); rep["stats"] != nil || rep["activities"] != 1.0 || rep["parallel"] != 1.0 {
		t.Errorf("bench defaults: %v", rep)
	}
}

// TestBenchText: the text output names the shape, versions and wire
// figures; on a terminal a progress bar is drawn on stderr and cleared,
// and never without one.
func TestBenchText(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tty := range []bool{false, true} {
		r := dfctl(t, ctx, tty, "bench", "-n", "4", "-c", "2", "--parallel", "2", "--stats")
		expectCode(t, r, 0)
		for _, want := range []string{"4 completed, 0 failed", "1 activity x 2 at once per workflow", "versions:", "nats-server", "msgs per workflow (server counters)"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("tty %v: output lacks %q:\n%s", tty, want, r.out)
			}
		}
		bar := strings.Contains(r.errOut, "/4 workflows") && strings.Contains(r.errOut, "\r\033[K")
		if bar != tty {
			t.Errorf("tty %v: progress bar drawn %v; stderr %q", tty, bar, r.errOut)
		}
	}
}

func TestBenchUsage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, args := range [][]string{{"--parallel", "0"}, {"--activities", "-1"}, {"--payload", "-5"}} {
		r := dfctl(t, ctx, false, append([]string{"bench", "-n", "1"}, args...)...)
		expectCode(t, r, 2)
	}
}

// TestBenchStatsExternal: against an external server, --stats counts this
// process's connections and says so.
func TestBenchStatsExternal(t *testing.T) {
	s := testsrv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := dfctl(t, ctx, false, "-s", s.ClientURL(), "bench", "-n", "4", "-c", "2", "--stats", "-o", "json")
	expectCode(t, r, 0)
	rep := decode[map[string]any](t, r.out)
	st, _ := rep["stats"].(map[string]any)
	if st == nil || st["source"] != "connections" {
		t.Fatalf("bench --stats on an external server: stats = %v", rep["stats"])
	}
	if v, _ := st["client_to_server_msgs_per_workflow"].(float64); v <= 0 {
		t.Errorf("bench --stats: %v messages client to server per workflow", v)
	}
	r = dfctl(t, ctx, false, "-s", s.ClientURL(), "bench", "-n", "2", "-c", "1", "--stats")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "this process's connections only") {
		t.Errorf("text output does not say where the counts come from:\n%s", r.out)
	}
}
