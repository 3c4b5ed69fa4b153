package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/durablefuture/durablefuture/pkg/workflowcheck"
	"github.com/spf13/cobra"
)

type vetOptions struct {
	app *App

	Dir   string
	Tests bool
}

func newVetCmd(app *App) *cobra.Command {
	o := &vetOptions{app: app}
	cmd := &cobra.Command{
		Use:   "vet [packages]",
		Short: "Check workflow code for what a replay would not reproduce",
		Long: `Check workflow code statically for non-determinism: what would make a replay
of a recorded history take another path. Workflow code is every function
whose first parameter is workflow.Context, and the functions of the same
package it calls. Packages are go list patterns (default ./...), loaded with
the go command: run it in your module with a Go toolchain installed.

Rules (each finding says what is wrong, why and the fix):
  DF2001  go statement                         use workflow.Go
  DF2002  Go channel or select                 use workflow.NewChannel, NewSelector
  DF2003  time.Now, Sleep, After, NewTimer...  use workflow.Now, Sleep, NewTimer
  DF2004  math/rand, crypto/rand               use workflow.SideEffect
  DF2005  map range that schedules work        sort the keys first
  DF2006  I/O (os, net, http, sql, exec),      do it in an activity; log with
          fmt.Print*, log, slog                workflow.GetLogger
  DF2007  mutable package variable             pass state through arguments
  DF2008  runtime.LockOSThread                 do thread-bound work in an activity

Silence a finding with a comment on its line or the line above:
  //dfvet:ignore DF2003 <reason>      that rule
  //dfvet:ignore <reason>             every rule on that line

Output: one "file:line:col: DFxxxx message" line per finding on stdout.
-o json prints a JSON array of {file, line, column, code, rule, message}
([] when clean); -o jsonl one object per line. The rules are in docs/vet.md;
the same checker runs under go vet: go vet -vettool=$(which dfvet) ./...

Exit codes:
  0  nothing found
  1  findings
  2  usage error, or the packages do not load (bad pattern, compile error)`,
		Example: `  dfctl vet                        # the packages under the current directory
  dfctl vet ./workflows/...        # some of them
  dfctl vet --tests=false ./...    # without the _test.go files
  dfctl vet -o json ./... | jq -r '.[] | select(.code == "DF2003") | .file'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVet(cmd, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Dir, "dir", "C", "", "run in `DIR` (the patterns are relative to it)")
	f.BoolVar(&o.Tests, "tests", true, "check the packages' _test.go files too")
	return cmd
}

func runVet(cmd *cobra.Command, o *vetOptions, patterns []string) error {
	ios := o.app.IO
	findings, npkgs, err := workflowcheck.Check(cmd.Context(), workflowcheck.Options{Dir: o.Dir, Tests: o.Tests}, patterns...)
	if cerr := cmd.Context().Err(); cerr != nil {
		return cerr // interrupted: the go command was stopped, not a load error
	}
	if errors.Is(err, workflowcheck.ErrLoad) {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	if err != nil {
		return err
	}
	switch o.app.Output {
	case outJSON:
		if findings == nil {
			findings = []workflowcheck.Finding{}
		}
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(findings); err != nil {
			return err
		}
	case outJSONL:
		enc := json.NewEncoder(ios.Out)
		for _, f := range findings {
			if err := enc.Encode(f); err != nil {
				return err
			}
		}
	default:
		for _, f := range findings {
			fmt.Fprintln(ios.Out, f)
		}
		st := ios.ErrStyles()
		if len(findings) == 0 {
			fmt.Fprintf(ios.ErrOut, "%s no findings in %d %s\n", st.ok.Render("✓"), npkgs, plural(npkgs, "package", "packages"))
		} else {
			fmt.Fprintf(ios.ErrOut, "%s %d %s in %d %s\n", st.bad.Render("✗"), len(findings), plural(len(findings), "finding", "findings"),
				npkgs, plural(npkgs, "package", "packages"))
		}
	}
	if len(findings) > 0 {
		return &ExitError{Code: 1, Silent: true}
	}
	return nil
}
