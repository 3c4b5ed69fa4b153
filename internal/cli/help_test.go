package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/internal/cli"
	"github.com/spf13/cobra"
)

// newTree builds the dfctl command tree with fake streams.
func newTree() *cobra.Command {
	ios := &cli.IOStreams{In: strings.NewReader(""), Out: &syncBuffer{}, ErrOut: &syncBuffer{}}
	return cli.NewRootCmd(&cli.App{IO: ios})
}

// commands returns every command of the tree but cobra's help command.
func commands(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" && c.Parent() == root {
			return
		}
		out = append(out, c)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return out
}

// Every command's help has an Examples section.
func TestEveryCommandHasExamples(t *testing.T) {
	cmds := commands(newTree())
	if len(cmds) < 20 {
		t.Fatalf("only %d commands in the tree", len(cmds))
	}
	for _, c := range cmds {
		path := c.CommandPath()
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no Example: add one to internal/cli/help.go or set the command's Example", path)
			continue
		}
		args := append(strings.Fields(path)[1:], "--help")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r := dfctl(t, ctx, false, args...)
		cancel()
		if r.code != 0 || !strings.Contains(r.out, "Examples:") {
			t.Errorf("dfctl %s: exit %d, no Examples section:\n%s%s", strings.Join(args, " "), r.code, r.out, r.errOut)
		}
	}
}

// Every example line that runs dfctl names a command of the tree, with
// flags it has and arguments it accepts.
func TestExamplesParse(t *testing.T) {
	root := newTree()
	for _, c := range commands(root) {
		for _, line := range strings.Split(c.Example, "\n") {
			words, ok := shellWords(line)
			if !ok || len(words) == 0 || words[0] != "dfctl" {
				continue
			}
			// A fresh tree per line: flags parsed for one line must not
			// leak into the next.
			tree := newTree()
			tree.InitDefaultVersionFlag() // added by Execute otherwise
			cmd, rest, err := tree.Find(words[1:])
			if err != nil {
				t.Errorf("%s: example %q: %v", c.CommandPath(), line, err)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s: example %q: %v", c.CommandPath(), line, err)
				continue
			}
			if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
				t.Errorf("%s: example %q: %v", c.CommandPath(), line, err)
			}
		}
	}
}

// shellWords splits an example line as a shell would, up to a comment, a
// pipe, a redirection or a command separator; ok is false for a line it
// cannot read (an unclosed quote, a process substitution).
func shellWords(line string) (words []string, ok bool) {
	line = strings.TrimSpace(line)
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '\'' || ch == '"':
			j := strings.IndexByte(line[i+1:], ch)
			if j < 0 {
				return nil, false
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == ' ' || ch == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '#' && !inWord, ch == '|', ch == '>', ch == ';', ch == '&':
			if inWord {
				words = append(words, cur.String())
			}
			return words, true
		case ch == '<':
			return nil, false
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, true
}
