package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/internal/cli"
)

func TestTUIRefusesWithoutATerminal(t *testing.T) {
	for _, tty := range []bool{false, true} { // stdin is never a terminal here
		var out, errOut strings.Builder
		ios := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, OutTTY: tty, ErrTTY: tty}
		code := cli.Run(context.Background(), []string{"-s", "nats://127.0.0.1:1", "tui"}, ios)
		if code != cli.ExitUsage {
			t.Errorf("tty=%v: exit %d, want %d", tty, code, cli.ExitUsage)
		}
		if !strings.Contains(errOut.String(), "dfctl show") || out.Len() != 0 {
			t.Errorf("tty=%v: stdout %q, stderr %q; want a pointer at dfctl show on stderr only", tty, out.String(), errOut.String())
		}
	}
}
