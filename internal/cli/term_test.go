package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/internal/cli"
)

// --color always colours even a pipe; auto does not; a bad value is a
// usage error.
func TestColorFlagOnPipes(t *testing.T) {
	run := func(args ...string) (int, string) {
		var out, errOut syncBuffer
		ios := &cli.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
		code := cli.Run(context.Background(), append([]string{"-s", "nats://127.0.0.1:1"}, args...), ios)
		return code, errOut.String()
	}
	if _, errOut := run("--color", "always", "list"); !strings.Contains(errOut, "\x1b[31mError:\x1b[0m") {
		t.Errorf("--color always into a pipe: %q", errOut)
	}
	for _, args := range [][]string{{"list"}, {"--color", "auto", "list"}, {"--color", "never", "list"}} {
		if _, errOut := run(args...); strings.Contains(errOut, "\x1b[") || !strings.Contains(errOut, "Error:") {
			t.Errorf("%q into a pipe: %q", args, errOut)
		}
	}
	if code, errOut := run("--color", "sometimes", "list"); code != cli.ExitUsage || !strings.Contains(errOut, "auto, always or never") {
		t.Errorf("--color sometimes: exit %d, %q", code, errOut)
	}
}
