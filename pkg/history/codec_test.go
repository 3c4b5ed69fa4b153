package history_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
	"github.com/nats-io/nats.go/jetstream"
)

func TestDurationJSON(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, 1500 * time.Millisecond, 90 * time.Minute, -time.Second} {
		b, err := json.Marshal(history.Duration(d))
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := json.Marshal(d.String()); string(b) != string(want) {
			t.Fatalf("%v encodes as %s, want %s", d, b, want)
		}
		var back history.Duration
		if err := json.Unmarshal(b, &back); err != nil || time.Duration(back) != d {
			t.Fatalf("%s decodes as %v, %v; want %v", b, time.Duration(back), err, d)
		}
	}
	for in, want := range map[string]time.Duration{
		`"2s"`:       2 * time.Second,
		`"\u0032s"`:  2 * time.Second, // escaped: decoded as JSON first
		`1500000000`: 1500 * time.Millisecond,
		`"1h2m3.5s"`: time.Hour + 2*time.Minute + 3500*time.Millisecond,
	} {
		var d history.Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || time.Duration(d) != want {
			t.Fatalf("%s: %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	for _, in := range []string{`"2 seconds"`, `"`, `"2s`, `true`, `"\"2s"`} {
		var d history.Duration
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Fatalf("%s decoded as %v; want an error", in, time.Duration(d))
		}
	}
}

// A long history decodes on several goroutines; the records keep their
// order and the error names the first bad message, as in one pass.
func TestDecodeRecordsLongHistory(t *testing.T) {
	const n = 3000
	msgs := make([]*jetstream.RawStreamMsg, n)
	for i := range msgs {
		rec := history.Record{V: 1, Kind: history.KindDecision, Events: []history.Event{{Seq: int64(i + 1), Type: history.TimerFired, Cause: int64(i)}}}
		data, err := json.Marshal(&rec)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = &jetstream.RawStreamMsg{Sequence: uint64(100 + i), Data: data}
	}
	recs, err := history.DecodeRecords("df.hist.a.b", msgs)
	if err != nil || len(recs) != n {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	for i, rec := range recs {
		if rec.StreamSeq != uint64(100+i) || rec.Events[0].Seq != int64(i+1) {
			t.Fatalf("record %d: stream seq %d, event seq %d", i, rec.StreamSeq, rec.Events[0].Seq)
		}
	}
	bad := func(i int) {
		msgs[i] = &jetstream.RawStreamMsg{Sequence: uint64(100 + i), Data: []byte("not a record")}
	}
	bad(2500)
	bad(1700)
	_, err = history.DecodeRecords("df.hist.a.b", msgs)
	var be *history.BadRecordError
	if !errors.As(err, &be) || be.Seq != 1800 {
		t.Fatalf("error %v; want the bad record at stream seq 1800 (the first)", err)
	}
}
