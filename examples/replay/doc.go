// Package replay is the replay check a team runs in CI before a deploy:
// replay_test.go replays the histories stored in testdata (written by
// `dfctl show ID -o json`) against the workflow code of this commit, and
// fails when the code no longer produces what a history records.
//
// Add a history: run the workflow, then
//
//	dfctl show ID -o json > examples/replay/testdata/NAME.json
//
// or regenerate the example scenarios' histories on an embedded server:
//
//	DF_UPDATE_HISTORIES=1 go test ./examples/replay -run TestUpdateHistories
//
// Keep the histories of runs that may still be open when the new code is
// deployed: a change that breaks them needs workflow.GetVersion.
//
// differential_test.go shows that this offline check is the live one: it
// runs every example scenario and a catalogue of code changes (incompatible
// and compatible, listed in docs/versioning.md), and asserts that a worker
// running the changed code (`dfctl replay ID`) and the replayer on the
// exported history file give identical verdicts, each the expected one
// with its code (DF1001-DF1005, or compatible).
package replay
