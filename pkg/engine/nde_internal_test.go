package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
)

// NDEOne schedules Act("a") and waits for it.
func NDEOne(ctx Context) error { return ExecuteActivity(ctx, "Act", "a").Get(ctx, nil) }

// NDETwo schedules Act("a") and Other(1) in the same decision.
func NDETwo(ctx Context) error {
	f := ExecuteActivity(ctx, "Act", "a")
	g := ExecuteActivity(ctx, "Other", 1)
	_ = f.Get(ctx, nil)
	return g.Get(ctx, nil)
}

// Each kind of non-determinism has its code, names the run, the recorded
// event and its decision, both sides with their input, and a hint.
func TestNonDeterminismCodesAndMessages(t *testing.T) {
	scheduled := func(seq int64, name, input string) history.Event {
		return history.Event{Seq: seq, Time: inputT0, Type: history.ActivityScheduled, Name: name, Input: json.RawMessage(input), Cause: 1,
			ActivityOptions: &history.ActivityOptions{TaskQueue: "q"}}
	}
	decision := func(evs ...history.Event) history.Record {
		return history.Record{Kind: history.KindDecision, StreamSeq: 2, Events: evs}
	}
	for _, tc := range []struct {
		name, code string
		fn         any
		rec        history.Record
		want       []string
	}{
		{"mismatch", CodeCommandMismatch, NDEOne, decision(scheduled(2, "Gate", `["x"]`)),
			[]string{"command mismatch", "event 2 (decision of events 2-2)", `ActivityScheduled(Gate) with ["x"]`, `ActivityScheduled(Act) with ["a"]`, "--to-event 1"}},
		{"missing", CodeMissingCommand, NDEOne, decision(scheduled(2, "Act", `["a"]`), scheduled(3, "Other", `[1]`)),
			[]string{"missing command", "event 3 (decision of events 2-3)", "ActivityScheduled(Other) with [1]", "no command", "--to-event 1"}},
		{"extra", CodeExtraCommand, NDETwo, decision(scheduled(2, "Act", `["a"]`)),
			[]string{"extra command", "the decision of events 2-2 records no further command", "ActivityScheduled(Other) with [1]"}},
		{"extra after nothing", CodeExtraCommand, NDEOne, decision(history.Event{Seq: 2, Time: inputT0, Type: history.SignalReceived, Name: "x", InputID: "sig:1", SignalSeq: 1}),
			[]string{"the decision of events 2-2 records no further command", "ActivityScheduled(Act)", "--to-event 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := NewRegistry()
			name := FunctionName(tc.fn)
			if err := reg.RegisterWorkflow(tc.fn, ""); err != nil {
				t.Fatal(err)
			}
			_, err := replayRun(reg, slog.New(slog.DiscardHandler), []history.Record{inputStart(name), tc.rec})
			var nde *NonDeterminismError
			if !errors.As(err, &nde) || nde.Code != tc.code {
				t.Fatalf("got %v, want a %s", err, tc.code)
			}
			msg := err.Error()
			want := append([]string{tc.code, "workflow " + name, `"w-1"`, "run run-1", "Hint: guard the change with workflow.GetVersion", "dfctl reset w-1 --to-event "}, tc.want...)
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not say %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message is not one line: %q", msg)
			}
		})
	}
}

// A long input is cut in the message.
func TestNonDeterminismMessageTruncatesInput(t *testing.T) {
	long := `["` + strings.Repeat("y", 500) + `"]`
	ev := history.Event{Type: history.ActivityScheduled, Name: "A", Input: json.RawMessage(long)}
	if s := describeCommandInput(ev); len([]rune(s)) > len("ActivityScheduled(A) with ")+ndeInputChars || !strings.HasSuffix(s, "…") {
		t.Fatalf("not truncated: %q", s)
	}
}

// NDETimer starts a one-minute timer and waits for it.
func NDETimer(ctx Context) error { return Sleep(ctx, time.Minute) }

// A scheduling command is compared with its input: by digest when the
// history has one (DF1004, both values shown), not at all in a history
// written before digests, nor for a name the worker lists as lenient; a
// timer by its duration.
func TestInputMismatch(t *testing.T) {
	scheduled := func(input string, digest bool) history.Record {
		ev := history.Event{Seq: 2, Time: inputT0, Type: history.ActivityScheduled, Name: "Act", Input: json.RawMessage(input), Cause: 1,
			ActivityOptions: &history.ActivityOptions{TaskQueue: "q"}}
		if digest {
			ev.InputDigest = inputDigest(ev.Input)
		}
		return history.Record{Kind: history.KindDecision, StreamSeq: 2, Events: []history.Event{ev}}
	}
	timer := history.Record{Kind: history.KindDecision, StreamSeq: 2, Events: []history.Event{{Seq: 2, Time: inputT0, Type: history.TimerStarted, Cause: 1, Duration: history.Duration(time.Hour)}}}
	for _, tc := range []struct {
		name    string
		fn      any
		rec     history.Record
		lenient []string
		want    []string // nil: replays clean
	}{
		{"same input", NDEOne, scheduled(`[ "a" ]`, true), nil, nil},
		{"other input", NDEOne, scheduled(`["b"]`, true), nil, []string{CodeInputMismatch, "input mismatch", `event 2 (decision of events 2-2) records ActivityScheduled(Act) with ["b"] but the code produced ActivityScheduled(Act) with ["a"]`}},
		{"no digest recorded", NDEOne, scheduled(`["b"]`, false), nil, nil},
		{"lenient", NDEOne, scheduled(`["b"]`, true), []string{"Act"}, nil},
		{"timer duration", NDETimer, timer, nil, []string{CodeInputMismatch, "records TimerStarted(1h0m0s) but the code produced TimerStarted(1m0s)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := NewRegistry()
			if err := reg.RegisterWorkflow(tc.fn, ""); err != nil {
				t.Fatal(err)
			}
			// Through ReplayRecords: the offline replayer's path, with the
			// lenient names a worker option (or replayer.SetLenientInputs) gives.
			err := ReplayRecords(reg, []history.Record{inputStart(FunctionName(tc.fn)), tc.rec}, tc.lenient...)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var nde *NonDeterminismError
			if !errors.As(err, &nde) || nde.Code != CodeInputMismatch {
				t.Fatalf("got %v, want a %s", err, CodeInputMismatch)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not say %q", err, w)
				}
			}
		})
	}
}

// New scheduling commands carry the digest of their input.
func TestNewCommandsCarryInputDigest(t *testing.T) {
	r, _ := liveInputTarget(t)
	a := r.activities[3].scheduled
	if a.InputDigest == "" || a.InputDigest != inputDigest(json.RawMessage("[]")) || len(a.InputDigest) != 16 {
		t.Fatalf("ActivityScheduled digest %q", a.InputDigest)
	}
}

// NDEPanic panics at once.
func NDEPanic(ctx Context) error { panic("boom") }

// A panic blocks an open run (DF1005, with the stack); a closed history
// that recorded the panic as its failure (the FailWorkflow policy, or a run
// from before the policy) still replays cleanly.
func TestPanicBlocksOpenRunReplaysClosedOne(t *testing.T) {
	reg := NewRegistry()
	if err := reg.RegisterWorkflow(NDEPanic, ""); err != nil {
		t.Fatal(err)
	}
	_, err := replayRun(reg, slog.New(slog.DiscardHandler), []history.Record{inputStart("NDEPanic")})
	var wce *WorkflowCodeError
	if !errors.As(err, &wce) || wce.Code != CodePanic || !strings.Contains(err.Error(), "panic: boom") ||
		!strings.Contains(wce.Stack, "NDEPanic") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("open run: %v (stack %q)", err, wce.Stack)
	}
	closed := history.Record{Kind: history.KindDecision, StreamSeq: 2, Events: []history.Event{{Seq: 2, Time: inputT0, Type: history.WorkflowFailed, Cause: 1,
		Failure: &history.Failure{Type: "PanicError", Message: "panic: boom"}}}}
	r, err := replayRun(reg, slog.New(slog.DiscardHandler), []history.Record{inputStart("NDEPanic"), closed})
	if err != nil {
		t.Fatalf("closed run: %v", err)
	}
	r.dispose()
	// A closed history that records something else where the code now
	// panics: the verdict is the panic (DF1005), as for an open run, not
	// a command mismatch with the WorkflowFailed the panic became.
	completed := history.Record{Kind: history.KindDecision, StreamSeq: 2, Events: []history.Event{{Seq: 2, Time: inputT0, Type: history.WorkflowCompleted, Cause: 1}}}
	_, err = replayRun(reg, slog.New(slog.DiscardHandler), []history.Record{inputStart("NDEPanic"), completed})
	if !errors.As(err, &wce) || wce.Code != CodePanic || !strings.Contains(err.Error(), "panic: boom") {
		t.Fatalf("closed run completed before the change: %v", err)
	}
}

// The digest costs one json.Compact and one sha256 per scheduled command.
func BenchmarkInputDigest(b *testing.B) {
	for _, n := range []int{64, 64 << 10} {
		in := json.RawMessage(`["` + strings.Repeat("x", n) + `"]`)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				_ = inputDigest(in)
			}
		})
	}
}
