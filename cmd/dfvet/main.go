// Command dfvet checks DurableFuture workflow code for non-determinism
// (see pkg/workflowcheck). Run it alone or as a go vet tool:
//
//	go build -o dfvet ./cmd/dfvet
//	./dfvet ./...
//	go vet -vettool=$(pwd)/dfvet ./...
//
// dfctl vet runs the same checker.
package main

import (
	"github.com/durablefuture/durablefuture/pkg/workflowcheck"
	"golang.org/x/tools/go/analysis/singlechecker"
)

func main() { singlechecker.Main(workflowcheck.Analyzer) }
