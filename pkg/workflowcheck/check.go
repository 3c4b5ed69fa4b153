package workflowcheck

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"
)

// A Finding is one diagnostic, with its position resolved. Its JSON is the
// contract of dfctl vet -o json.
type Finding struct {
	File    string `json:"file"` // relative to Options.Dir when under it
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Code    string `json:"code"` // DF2001 ...
	Rule    string `json:"rule"` // go-statement ...
	Message string `json:"message"`
}

// String is "file:line:col: DFxxxx message", as compilers and go vet print.
func (f Finding) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", f.File, f.Line, f.Column, f.Message)
}

// Options say what Check loads.
type Options struct {
	// Dir is the directory the patterns are relative to, in the module to
	// check (default: the current directory).
	Dir string
	// Tests checks the packages' test files too (go vet does).
	Tests bool
}

// ErrLoad is wrapped by the error Check returns when the packages cannot be
// loaded: a bad pattern, or a package that does not compile.
var ErrLoad = errors.New("cannot load packages")

// Check loads the packages matched by patterns (go list patterns, as for go
// vet) with the go command and runs Analyzer on them. The findings are
// sorted by file and position, each once (a file in a package and its test
// variant is checked twice). packages is the number of packages checked.
//
// It type-checks the matched packages from source and their dependencies
// from the go command's export data, so it needs only a Go toolchain.
func Check(ctx context.Context, opts Options, patterns ...string) (findings []Finding, npkgs int, err error) {
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	cfg := &packages.Config{
		Context: ctx,
		Mode:    packages.LoadSyntax,
		Dir:     opts.Dir,
		Tests:   opts.Tests,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrLoad, err)
	}
	var errs []string
	for _, p := range pkgs {
		for _, e := range p.Errors {
			if e.Pos == "" || e.Pos == "-" {
				errs = append(errs, e.Msg)
			} else {
				errs = append(errs, e.Error())
			}
		}
	}
	slices.Sort(errs)
	switch errs = slices.Compact(errs); len(errs) {
	case 0:
	case 1:
		return nil, 0, fmt.Errorf("%w: %s", ErrLoad, errs[0])
	default:
		return nil, 0, fmt.Errorf("%w:\n%s", ErrLoad, strings.Join(errs, "\n"))
	}
	if len(pkgs) == 0 {
		return nil, 0, fmt.Errorf("%w: %s matched no packages", ErrLoad, strings.Join(patterns, " "))
	}
	graph, err := checker.Analyze([]*analysis.Analyzer{Analyzer}, pkgs, nil)
	if err != nil {
		return nil, 0, err
	}
	base := opts.Dir
	if base == "" {
		base = "."
	}
	base, _ = filepath.Abs(base)
	type at struct {
		file         string
		line, column int
		code         string
	}
	seen := map[at]bool{}
	for _, act := range graph.Roots {
		if act.Err != nil {
			return nil, 0, fmt.Errorf("%s: %w", act.Package.PkgPath, act.Err)
		}
		for _, d := range act.Diagnostics {
			p := act.Package.Fset.Position(d.Pos)
			file := p.Filename
			if rel, err := filepath.Rel(base, file); err == nil && !strings.HasPrefix(rel, "..") {
				file = rel
			}
			r, _ := ruleByCode(d.Category)
			f := Finding{File: file, Line: p.Line, Column: p.Column, Code: d.Category, Rule: r.Name, Message: d.Message}
			if k := (at{f.File, f.Line, f.Column, f.Code}); !seen[k] {
				seen[k] = true
				findings = append(findings, f)
			}
		}
	}
	slices.SortFunc(findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column), cmp.Compare(a.Code, b.Code))
	})
	return findings, countPackages(pkgs), nil
}

// countPackages counts the packages checked, a package and its test
// variants as one.
func countPackages(pkgs []*packages.Package) int {
	paths := map[string]bool{}
	for _, p := range pkgs {
		if strings.HasSuffix(p.PkgPath, ".test") {
			continue // the generated test main
		}
		paths[strings.TrimSuffix(p.PkgPath, "_test")] = true
	}
	return len(paths)
}
