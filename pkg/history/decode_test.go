package history_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go/jetstream"
)

func TestDecodeRecords(t *testing.T) {
	good := func(seq uint64, evSeq int) *jetstream.RawStreamMsg {
		return &jetstream.RawStreamMsg{Sequence: seq, Data: fmt.Appendf(nil, `{"v":1,"kind":"input","events":[{"seq":%d,"type":"WorkflowStarted"}]}`, evSeq)}
	}
	raw := func(seq uint64, data string) *jetstream.RawStreamMsg {
		return &jetstream.RawStreamMsg{Sequence: seq, Data: []byte(data)}
	}
	for _, tc := range []struct {
		name    string
		msg     *jetstream.RawStreamMsg
		withErr string
	}{
		{"a record", good(7, 2), ""},
		{"not JSON", raw(7, "\x00garbage"), "decode record"},
		{"a newer version", raw(7, `{"v":99,"kind":"input","events":[{"seq":2,"type":"WorkflowStarted"}]}`), "version 99"},
		{"no kind", raw(7, `{"v":1,"events":[{"seq":2,"type":"WorkflowStarted"}]}`), "kind"},
		{"no event", raw(7, `{"v":1,"kind":"decision","events":[]}`), "no event"},
		{"an event without a type", raw(7, `{"v":1,"kind":"input","events":[{"seq":2}]}`), "no type"},
		{"JSON of another shape", raw(7, `[1,2,3]`), "decode record"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := []*jetstream.RawStreamMsg{good(5, 1), tc.msg, good(9, 3)}
			recs, err := history.DecodeRecords("df.hist.w.r", msgs)
			tolerant, bad := history.DecodeRecordsTolerant("df.hist.w.r", msgs)
			if tc.withErr == "" {
				if err != nil || len(recs) != 3 || len(tolerant) != 3 || len(bad) != 0 {
					t.Fatalf("strict: %d records, %v; tolerant: %d records, %v", len(recs), err, len(tolerant), bad)
				}
				return
			}
			var be *history.BadRecordError
			if !errors.As(err, &be) || be.Seq != 7 || be.Subject != "df.hist.w.r" || !strings.Contains(be.Error(), tc.withErr) {
				t.Fatalf("strict: %v, want a BadRecordError at seq 7 saying %q", err, tc.withErr)
			}
			if !strings.Contains(be.Error(), "stream seq 7") {
				t.Fatalf("the error does not name the record: %v", be)
			}
			if len(tolerant) != 2 || tolerant[0].StreamSeq != 5 || tolerant[1].StreamSeq != 9 || len(bad) != 1 || bad[0].Seq != 7 {
				t.Fatalf("tolerant: records %+v, bad %v", tolerant, bad)
			}
		})
	}
}
