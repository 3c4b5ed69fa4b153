package cli_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/pkg/workflowcheck"
)

// corpus is workflow code with findings (see pkg/workflowcheck/testdata).
const corpus = "../../pkg/workflowcheck/testdata/realsdk"

func TestVet(t *testing.T) {
	ctx := context.Background()
	line := regexp.MustCompile(`^[^:]+\.go:\d+:\d+: DF20\d\d \S`)
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		findings bool
	}{
		{"findings", []string{"vet", corpus}, 1, true},
		{"dir flag", []string{"vet", "-C", corpus}, 1, true},
		{"clean", []string{"vet", "../../examples/..."}, 0, false},
		{"no such package", []string{"vet", "./no/such/dir"}, 2, false},
		{"bad output", []string{"vet", "-o", "yaml", corpus}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, tty := range []bool{false, true} {
				r := dfctl(t, ctx, tty, tc.args...)
				if r.code != tc.code {
					t.Fatalf("tty=%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tty, r.code, tc.code, r.out, r.errOut)
				}
				lines := strings.Split(strings.TrimSpace(r.out), "\n")
				if !tc.findings {
					if r.out != "" {
						t.Errorf("tty=%v: stdout %q, want nothing", tty, r.out)
					}
					continue
				}
				for _, l := range lines {
					if !line.MatchString(l) {
						t.Errorf("tty=%v: line %q is not file:line:col: DFxxxx message", tty, l)
					}
				}
				if !strings.Contains(r.errOut, "findings in 1 package") {
					t.Errorf("tty=%v: stderr %q, want the summary", tty, r.errOut)
				}
			}
		})
	}
}

func TestVetJSON(t *testing.T) {
	ctx := context.Background()
	r := dfctl(t, ctx, false, "vet", "-o", "json", corpus)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1: %s", r.code, r.errOut)
	}
	var fs []workflowcheck.Finding
	if err := json.Unmarshal([]byte(r.out), &fs); err != nil {
		t.Fatalf("not a JSON array of findings: %v\n%s", err, r.out)
	}
	codes := map[string]bool{}
	for _, f := range fs {
		codes[f.Code] = true
		if f.Line == 0 || f.Column == 0 || !strings.HasSuffix(f.File, "realsdk.go") || f.Rule == "" || !strings.HasPrefix(f.Message, f.Code) {
			t.Errorf("incomplete finding %+v", f)
		}
	}
	for _, c := range []string{"DF2001", "DF2002", "DF2003", "DF2004", "DF2005", "DF2007"} {
		if !codes[c] {
			t.Errorf("no %s finding in %s", c, r.out)
		}
	}
	if codes["DF2006"] {
		t.Errorf("DF2006 reported despite //dfvet:ignore DF2006")
	}

	r = dfctl(t, ctx, false, "vet", "-o", "json", "../../examples/...")
	if r.code != 0 || strings.TrimSpace(r.out) != "[]" {
		t.Errorf("clean: exit %d, stdout %q; want 0 and []", r.code, r.out)
	}

	r = dfctl(t, ctx, false, "vet", "-o", "jsonl", corpus)
	for _, l := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var f workflowcheck.Finding
		if err := json.Unmarshal([]byte(l), &f); err != nil || f.Code == "" {
			t.Errorf("jsonl line %q: %v", l, err)
		}
	}
}

func TestVetHelp(t *testing.T) {
	r := dfctl(t, context.Background(), false, "vet", "--help")
	for _, want := range []string{"Examples:", "dfctl vet ./workflows/...", "//dfvet:ignore DF2003", "DF2007", "Exit codes:"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
