//go:build linux || darwin

package cli_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"
	"github.com/durablefuture/durablefuture/internal/cli"
	"github.com/spf13/cobra"
)

// terminalQuery matches the escape sequences that ask a terminal something
// and wait for its answer: colour queries (OSC 10, 11, 12, 4), device
// attributes and status reports (DA1-3, DSR such as the cursor position
// ESC[6n), mode requests (DECRQM), the kitty keyboard query, XTGETTCAP,
// DECRQSS and window reports.
var terminalQuery = regexp.MustCompile(`\x1b\](?:1[0-2]|4;\d+);\?` +
	`|\x1b\[[?>=]?[\d;]*[cn]` +
	`|\x1b\[\??[\d;]*\$p` +
	`|\x1b\[\?u` +
	`|\x1bP\+q|\x1bP\$q` +
	`|\x1b\[1[13489]t`)

// ptyBudget is how long a command may take on a terminal that never
// answers: the libraries that ask give up after 5 s.
const ptyBudget = 4 * time.Second

// ptyRun is one command's run on a pseudo-terminal.
type ptyRun struct {
	args []string
	out  string // as written, \r\n and escape sequences included
	code int
	took time.Duration
}

// runOnPTY runs bin with stdin, stdout and stderr on a fresh pty (its
// controlling terminal) that never answers anything, and reads all it
// writes.
func runOnPTY(t *testing.T, bin string, env []string, cols uint16, args ...string) ptyRun {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: cols}); err != nil {
		t.Fatalf("pty size: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tty.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	tty.Close()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(&out, ptmx) // ends (EIO) once the slave is closed
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	r := ptyRun{args: args}
	select {
	case <-done:
		r.took = time.Since(start)
	case <-time.After(ptyBudget):
		r.took = time.Since(start)
		_ = cmd.Process.Kill()
		<-done
	}
	r.code = cmd.ProcessState.ExitCode()
	select {
	case <-read:
	case <-time.After(2 * time.Second):
		ptmx.Close()
		<-read
	}
	r.out = out.String()
	return r
}

// ptyEnv is the environment of the runs: a colour terminal, whatever the
// test runs in.
func ptyEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "NO_COLOR", "TERM", "COLORTERM", "COLUMNS", "LINES", "TMUX", "CLICOLOR", "CLICOLOR_FORCE":
		default:
			env = append(env, kv)
		}
	}
	return append(env, "TERM=xterm-256color", "XDG_STATE_HOME="+t.TempDir())
}

// dfctlBinary builds dfctl once for the test (or takes $DFCTL_BIN, to
// compare builds).
func dfctlBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("DFCTL_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "dfctl")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/durablefuture/durablefuture/cmd/dfctl").CombinedOutput()
	if err != nil {
		t.Fatalf("go build dfctl: %v\n%s", err, out)
	}
	return bin
}

// commandPaths lists every command of dfctl's tree ("" is dfctl itself).
func commandPaths() []string {
	var paths []string
	var walk func(c *cobra.Command, path string)
	walk = func(c *cobra.Command, path string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, strings.TrimSpace(path+" "+sub.Name()))
		}
	}
	walk(cli.NewRootCmd(&cli.App{IO: &cli.IOStreams{}}), "")
	return paths
}

// dfctl on a terminal: the built binary, its stdin, stdout and stderr on a
// pseudo-terminal that never answers, against a server with a completed
// run.
func TestOnATerminal(t *testing.T) {
	e := newEnv(t)
	longID := "pty-" + strings.Repeat("long-workflow-id-", 5) + "end"
	for _, id := range []string{"pty-greet", longID} {
		if r := e.run(t, false, "execute", "GreetWorkflow", "--id", id, "--input", `"pty"`); r.code != 0 {
			t.Fatalf("execute: exit %d\n%s%s", r.code, r.out, r.errOut)
		}
	}
	bin, env := dfctlBinary(t), ptyEnv(t)
	t.Run("AskNothing", func(t *testing.T) { testAskNothing(t, bin, env, e.url) })
	t.Run("ColourAndWidth", func(t *testing.T) { testColourAndWidth(t, bin, env, e.url, longID) })
}

// Every dfctl command but tui leaves the terminal alone: on a terminal that
// never answers, none writes a question (the background colour, the cursor
// position) and none waits for an answer.
func testAskNothing(t *testing.T, bin string, env []string, url string) {
	const down = "nats://127.0.0.1:1"
	type check struct {
		args []string
		ok   bool   // exit 0, else an error exit
		want string // in the output
	}
	var checks []check
	for _, path := range commandPaths() {
		checks = append(checks, check{args: append(strings.Fields(path), "--help"), ok: true, want: "Usage:"})
	}
	root := cli.NewRootCmd(&cli.App{IO: &cli.IOStreams{}})
	if c, _, err := root.Find([]string{"version"}); err == nil && c != root {
		checks = append(checks, check{args: []string{"version"}, ok: true})
	}
	checks = append(checks,
		check{args: []string{"-s", url, "list"}, ok: true, want: "pty-greet"},
		check{args: []string{"-s", url, "list", "--color", "always"}, ok: true, want: "pty-greet"},
		check{args: []string{"-s", url, "list", "-o", "json"}, ok: true, want: `"pty-greet"`},
		check{args: []string{"-s", url, "describe", "pty-greet"}, ok: true, want: "completed"},
		check{args: []string{"-s", url, "describe", "pty-greet", "-o", "json"}, ok: true, want: `"pty-greet"`},
		check{args: []string{"-s", url, "show", "pty-greet"}, ok: true, want: "Hello"},
		check{args: []string{"-s", url, "show", "pty-greet", "-o", "jsonl"}, ok: true, want: "WorkflowCompleted"},
		check{args: []string{"-s", url, "result", "pty-greet"}, ok: true, want: "Hello, pty"},
		check{args: []string{"-s", url, "describe", "no-such-workflow"}},
		check{args: []string{"-s", down, "list"}},
		check{args: []string{"-s", down, "describe", "pty-greet", "-o", "json"}},
		check{args: []string{"-s", down, "show", "pty-greet"}},
		check{args: []string{"-s", down, "--color", "never", "result", "pty-greet"}},
		check{args: []string{"no-such-command"}},
	)
	for _, c := range checks {
		r := runOnPTY(t, bin, env, 100, c.args...)
		name := "dfctl " + strings.Join(c.args, " ")
		if r.took >= ptyBudget {
			t.Errorf("%s: still running after %s on a terminal that does not answer", name, r.took.Round(time.Millisecond))
		}
		if q := terminalQuery.FindAllString(r.out, -1); len(q) > 0 {
			t.Errorf("%s asked the terminal %q:\n%q", name, q, r.out)
		}
		if c.ok != (r.code == 0) {
			t.Errorf("%s: exit %d\n%s", name, r.code, r.out)
		}
		if !strings.Contains(r.out, c.want) {
			t.Errorf("%s: no %q in the output:\n%s", name, c.want, r.out)
		}
		if testing.Verbose() {
			t.Logf("%-60s %4dms exit %d", name, r.took.Milliseconds(), r.code)
		}
	}
}

// On a terminal, text output has colour (but not with --color never or
// NO_COLOR) and its tables fit the terminal's width, which dfctl reads from
// the terminal itself (an ioctl; $COLUMNS overrides it).
func testColourAndWidth(t *testing.T, bin string, env []string, url, id string) {
	for _, cols := range []uint16{80, 200} {
		r := runOnPTY(t, bin, env, cols, "-s", url, "list")
		if r.code != 0 || !strings.Contains(r.out, "\x1b[32m✓ completed") {
			t.Errorf("list on a %d-column terminal: exit %d, no coloured status:\n%q", cols, r.code, r.out)
		}
		for _, l := range strings.Split(strings.TrimRight(r.out, "\r\n"), "\r\n") {
			if w := ansi.StringWidth(l); w > int(cols) {
				t.Errorf("list on a %d-column terminal: a line of %d cells: %q", cols, w, l)
			}
		}
		if cut := !strings.Contains(r.out, id); cut != (cols == 80) {
			t.Errorf("list on a %d-column terminal: ID cut %v:\n%s", cols, cut, r.out)
		}
	}
	if r := runOnPTY(t, bin, env, 100, "-s", url, "--color", "never", "list"); strings.Contains(r.out, "\x1b[") {
		t.Errorf("list --color never on a terminal wrote escape sequences:\n%q", r.out)
	}
	if r := runOnPTY(t, bin, append(env, "NO_COLOR=1"), 100, "-s", url, "list"); strings.Contains(r.out, "\x1b[") {
		t.Errorf("list with NO_COLOR on a terminal wrote escape sequences:\n%q", r.out)
	}
	if r := runOnPTY(t, bin, append(env, "COLUMNS=50"), 200, "-s", url, "list"); strings.Contains(r.out, id) {
		t.Errorf("COLUMNS=50 did not cut the table:\n%s", r.out)
	}
}
