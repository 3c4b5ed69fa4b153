package workflowcheck_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/pkg/workflowcheck"
)

// TestRealSDK checks testdata/realsdk, written against the real
// pkg/sdk/workflow, through Check: the // want comments there must match
// the findings line for line.
func TestRealSDK(t *testing.T) {
	dir := filepath.Join("testdata", "realsdk")
	findings, n, err := workflowcheck.Check(context.Background(), workflowcheck.Options{Dir: dir, Tests: true}, ".")
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("checked %d packages, want 1", n)
	}
	want := wants(t, filepath.Join(dir, "realsdk.go"))
	for _, f := range findings {
		if f.File != "realsdk.go" {
			t.Errorf("file %q, want realsdk.go (relative to Dir)", f.File)
		}
		if !strings.HasPrefix(f.Message, f.Code+" ") || f.Rule == "" {
			t.Errorf("%s: code %q, rule %q", f, f.Code, f.Rule)
		}
		i := slices.IndexFunc(want[f.Line], func(re *regexp.Regexp) bool { return re.MatchString(f.Message) })
		if i < 0 {
			t.Errorf("unexpected finding %s", f)
			continue
		}
		want[f.Line] = slices.Delete(want[f.Line], i, i+1)
	}
	for line, res := range want {
		for _, re := range res {
			t.Errorf("realsdk.go:%d: no finding matching %s", line, re)
		}
	}
}

var wantRE = regexp.MustCompile("// want (`[^`]*`\\s*)+$")

// wants reads a file's // want `regexp` comments: line → patterns.
func wants(t *testing.T, file string) map[int][]*regexp.Regexp {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int][]*regexp.Regexp{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		m := wantRE.FindString(sc.Text())
		for _, q := range regexp.MustCompile("`[^`]*`").FindAllString(m, -1) {
			out[line] = append(out[line], regexp.MustCompile(strings.Trim(q, "`")))
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no // want comments", file)
	}
	return out
}

// TestExamplesClean: the example scenarios are workflow code as users
// should write it; the checker must find nothing in them.
func TestExamplesClean(t *testing.T) {
	findings, n, err := workflowcheck.Check(context.Background(), workflowcheck.Options{Dir: "../..", Tests: true}, "./examples/...")
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no packages checked")
	}
	for _, f := range findings {
		t.Errorf("examples: %s", f)
	}
}

func TestCheckLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		patterns []string
	}{
		{"no such package", []string{"./no/such/dir"}},
		{"matches nothing", []string{"./testdata/nothing/..."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := workflowcheck.Check(context.Background(), workflowcheck.Options{}, tc.patterns...)
			if !errors.Is(err, workflowcheck.ErrLoad) {
				t.Fatalf("err = %v, want ErrLoad", err)
			}
		})
	}
}

func TestFindingString(t *testing.T) {
	f := workflowcheck.Finding{File: "a.go", Line: 3, Column: 2, Code: "DF2001", Message: "DF2001 go statement"}
	if got, want := f.String(), "a.go:3:2: DF2001 go statement"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
