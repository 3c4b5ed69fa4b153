package workflowcheck

import (
	"go/ast"
	"go/token"
	"slices"
	"strings"
)

const ignoreDirective = "//dfvet:ignore"

// parseIgnores finds the //dfvet:ignore comments: file → line → the codes
// it names (nil: every rule).
func parseIgnores(fset *token.FileSet, files []*ast.File) map[string]map[int][]string {
	out := map[string]map[int][]string{}
	for _, f := range files {
		for _, g := range f.Comments {
			for _, cm := range g.List {
				codes, ok := parseIgnore(cm.Text)
				if !ok {
					continue
				}
				p := fset.Position(cm.Slash)
				if out[p.Filename] == nil {
					out[p.Filename] = map[int][]string{}
				}
				out[p.Filename][p.Line] = codes
			}
		}
	}
	return out
}

// parseIgnore parses "//dfvet:ignore [DF2003[,DF2004...]] [reason]". The
// codes are nil when the comment names none: it silences every rule.
func parseIgnore(text string) (codes []string, ok bool) {
	rest, ok := strings.CutPrefix(text, ignoreDirective)
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return nil, false
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return nil, true
	}
	for _, c := range strings.Split(fields[0], ",") {
		if _, known := ruleByCode(c); !known {
			return nil, true // a reason, not codes
		}
		codes = append(codes, c)
	}
	return codes, true
}

// ignored reports whether a //dfvet:ignore on pos's line or the line above
// silences code.
func (c *pkgCheck) ignored(pos token.Pos, code string) bool {
	p := c.pass.Fset.Position(pos)
	lines := c.ignores[p.Filename]
	for _, l := range []int{p.Line, p.Line - 1} {
		if codes, ok := lines[l]; ok && (codes == nil || slices.Contains(codes, code)) {
			return true
		}
	}
	return false
}
