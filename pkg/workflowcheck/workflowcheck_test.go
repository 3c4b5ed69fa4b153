package workflowcheck_test

import (
	"testing"

	"github.com/durablefuture/durablefuture/pkg/workflowcheck"
	"golang.org/x/tools/go/analysis/analysistest"
)

// TestAnalyzer runs the analyzer on the corpus in testdata/src, against
// stubs of pkg/sdk/workflow and pkg/engine at their real import paths:
// rules triggers every rule, ignore the //dfvet:ignore comment, allowed is
// code that must produce nothing.
func TestAnalyzer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), workflowcheck.Analyzer, "rules", "ignore", "allowed")
}
