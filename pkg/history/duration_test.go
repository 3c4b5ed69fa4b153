package history_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/history"
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
