package cli_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// complete runs dfctl's hidden completion command (as a shell does) and
// returns the candidates and the directive line.
func complete(t *testing.T, url string, args ...string) (cands []string, directive string, r result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r = dfctl(t, ctx, false, append([]string{"-s", url, "__completeNoDesc"}, args...)...)
	expectCode(t, r, 0)
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1], r
}

func TestCompletion(t *testing.T) {
	e := newEnv(t)
	expectCode(t, e.run(t, false, "execute", "GreetWorkflow", "--id", "greet-1", "--input", `"Ann"`), 0)
	expectCode(t, e.run(t, false, "start", "WaitForSignal", "--id", "wait-a"), 0)
	expectCode(t, e.run(t, false, "start", "WaitForSignal", "--id", "wait-b", "--task-queue", "other-q"), 0)
	expectCode(t, e.run(t, false, "signal", "wait-a", "go", "--input", `"now"`), 0)

	const noFile = ":4" // cobra.ShellCompDirectiveNoFileComp
	for _, tc := range []struct {
		name string
		args []string
		want []string
		// atLeast: want is a subset (list's --status may take more).
		atLeast bool
	}{
		{"ids", []string{"describe", ""}, []string{"greet-1", "wait-a", "wait-b"}, false},
		{"id prefix", []string{"show", "wa"}, []string{"wait-a", "wait-b"}, false},
		{"id of signal", []string{"signal", "gr"}, []string{"greet-1"}, false},
		{"more ids", []string{"delete", "greet-1", ""}, []string{"wait-a", "wait-b"}, false},
		{"nothing after the id", []string{"describe", "greet-1", ""}, nil, false},
		// The types the live worker registered, run or not.
		{"types", []string{"start", ""}, []string{"ChargeWorkflow", "Countdown", "GreetWorkflow", "WaitForSignal"}, false},
		{"types of execute", []string{"execute", "Gr"}, []string{"GreetWorkflow"}, false},
		// wait-b received nothing; wait-a, of the same type, received "go".
		{"signal names", []string{"signal", "wait-b", ""}, []string{"go"}, false},
		{"signal names of a type", []string{"signal", "--type", "WaitForSignal", ""}, []string{"go"}, false},
		{"task queues", []string{"start", "GreetWorkflow", "--task-queue", ""}, []string{"default", "other-q"}, false},
		{"statuses", []string{"list", "--status", ""}, []string{"running", "completed", "failed", "canceled", "terminated", "timed_out"}, true},
		{"status prefix", []string{"list", "--status", "c"}, []string{"completed", "canceled"}, true},
		{"list types", []string{"list", "--type", "W"}, []string{"WaitForSignal"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, dir, r := complete(t, e.url, tc.args...)
			if dir != noFile {
				t.Errorf("directive %q, want %s", dir, noFile)
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if tc.atLeast {
				for _, g := range got {
					if !strings.HasPrefix(g, tc.args[len(tc.args)-1]) {
						t.Errorf("__complete %v offers %q", tc.args, g)
					}
				}
				for _, w := range want {
					if !slices.Contains(got, w) {
						t.Errorf("__complete %v = %q, want %q among them", tc.args, got, w)
					}
				}
				return
			}
			if !slices.Equal(got, want) {
				t.Errorf("__complete %v = %q, want %q\nstderr: %s", tc.args, got, want, r.errOut)
			}
		})
	}
}

// With no server, completion offers nothing, prints no error and returns
// within about its 1s budget, for a refused connection and for a peer that
// accepts and never answers.
func TestCompletionNoServer(t *testing.T) {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "nats://" + refused.Addr().String()
	refused.Close()

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan []net.Conn, 1)
	go func() {
		var conns []net.Conn // held open, never answered
		for {
			c, err := silent.Accept()
			if err != nil {
				accepted <- conns
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func() {
		silent.Close()
		for _, c := range <-accepted {
			c.Close()
		}
	}()
	silentURL := "nats://" + silent.Addr().String()

	for _, url := range []string{refusedURL, silentURL} {
		for _, args := range [][]string{{"describe", ""}, {"start", ""}, {"signal", "x", ""}, {"start", "T", "--task-queue", ""}} {
			begin := time.Now()
			got, dir, r := complete(t, url, args...)
			if d := time.Since(begin); d > 3*time.Second {
				t.Errorf("%s __complete %v took %s", url, args, d)
			}
			if dir != ":4" {
				t.Errorf("%s __complete %v: directive %q, want :4", url, args, dir)
			}
			if len(args) == 4 {
				if !slices.Equal(got, []string{"default"}) {
					t.Errorf("%s __complete %v = %q, want the default queue", url, args, got)
				}
			} else if len(got) != 0 {
				t.Errorf("%s __complete %v = %q, want nothing", url, args, got)
			}
			if strings.Contains(strings.ToLower(r.errOut), "error") {
				t.Errorf("%s __complete %v wrote an error: %s", url, args, r.errOut)
			}
		}
	}
}

// The completion command is listed in the help, and writes a script.
func TestCompletionCommandVisible(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := dfctl(t, ctx, false, "--help")
	expectCode(t, r, 0)
	if !strings.Contains(r.out, "completion") {
		t.Errorf("dfctl --help does not list completion:\n%s", r.out)
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := dfctl(t, ctx, false, "completion", sh)
		expectCode(t, r, 0)
		if !strings.Contains(r.out, "dfctl") || len(r.out) < 500 {
			t.Errorf("dfctl completion %s wrote %d bytes", sh, len(r.out))
		}
	}
}
