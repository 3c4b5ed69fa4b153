package history

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// nats.go's own reading of an acknowledgement (jetstream.publishMsg).
func slowPubAck(data []byte) (*jetstream.PubAck, error) {
	var r struct {
		Type  string              `json:"type"`
		Error *jetstream.APIError `json:"error"`
		*jetstream.PubAck
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jetstream.ErrInvalidJSAck
	}
	if r.Error != nil {
		return nil, r.Error
	}
	if r.PubAck == nil || r.PubAck.Stream == "" {
		return nil, jetstream.ErrInvalidJSAck
	}
	return r.PubAck, nil
}

func samePubAck(t *testing.T, data []byte) {
	t.Helper()
	got, gerr := decodePubAck(data)
	want, werr := slowPubAck(data)
	var gapi, wapi *jetstream.APIError
	switch {
	case werr == nil && (gerr != nil || !reflect.DeepEqual(got, want)):
		t.Fatalf("%q: got %+v, %v; want %+v", data, got, gerr, want)
	case errors.As(werr, &wapi):
		if !errors.As(gerr, &gapi) || *gapi != *wapi {
			t.Fatalf("%q: got %v, want %v", data, gerr, werr)
		}
	case werr != nil && !errors.Is(gerr, werr):
		t.Fatalf("%q: got %v, want %v", data, gerr, werr)
	}
}

var pubAckCorpus = []string{
	`{"stream":"DF_HISTORY","seq":7}`,
	`{"stream":"DF_HISTORY","seq":0}`,
	`{"stream":"DF_HISTORY","seq":18446744073709551615}`,
	`{"stream":"DF_HISTORY","seq":18446744073709551616}`,
	`{"stream":"DF_HISTORY","seq":007}`,
	`{"stream":"S","domain":"hub","seq":12}`,
	`{"stream":"S","domain":"","seq":12}`,
	`{"stream":"S","seq":12,"duplicate": true}`,
	`{"stream":"S","seq":12,"duplicate":true}`,
	`{"stream":"S","domain":"hub","seq":12,"duplicate": true}`,
	`{"stream":"S","seq":12,"duplicate": true,"batch":"b","count":3}`,
	`{"stream":"S","seq":12,"duplicate":false}`,
	`{"stream":"S","seq":12,"val":"5"}`,
	`{"stream":"S\u0041","seq":1}`,
	`{"stream":"","seq":1}`,
	`{"seq":1,"stream":"S"}`,
	`{"stream":"S","seq":1} `,
	` {"stream":"S","seq":1}`,
	`{"stream":"S","seq":-1}`,
	`{"stream":"S","seq":1.5}`,
	`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 7"},"stream":"DF_HISTORY","seq":0}`,
	`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0}`,
	`{"type":"io.nats.jetstream.api.v1.pub_ack","stream":"S","seq":3}`,
	`{}`,
	`null`,
	``,
	`{"stream":"S","seq":1`,
	`not json`,
	"{\"stream\":\"\xb9\",\"seq\":0}",
}

func TestDecodePubAckAsNatsGo(t *testing.T) {
	for _, c := range pubAckCorpus {
		samePubAck(t, []byte(c))
		for i := range len(c) {
			samePubAck(t, []byte(c[:i]))
		}
	}
	// The common shapes take the fast path.
	for _, c := range []string{`{"stream":"S","seq":12}`, `{"stream":"S","domain":"hub","seq":12,"duplicate": true}`} {
		if _, ok := parsePubAck([]byte(c)); !ok {
			t.Errorf("%s: not read by the fast path", c)
		}
	}
}

func FuzzDecodePubAck(f *testing.F) {
	for _, c := range pubAckCorpus {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) { samePubAck(t, data) })
}

// Against a server: acknowledgements, duplicates, refusals and a subject no
// stream takes come back as nats.go's own publish returns them.
func TestFastPublishAgainstServer(t *testing.T) {
	srv, err := devserver.Start(devserver.Options{StoreDir: t.TempDir(), InProcessOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PUB", Subjects: []string{"pub.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	fast := FastPublish(js, nc)
	if FastPublish(fast, nc) != fast {
		t.Fatal("FastPublish wraps itself")
	}
	msg := func(subj, id string, hdr ...string) *nats.Msg {
		m := nats.NewMsg(subj)
		m.Data = []byte("x")
		if id != "" {
			m.Header.Set(jetstream.MsgIDHeader, id)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			m.Header.Set(hdr[i], hdr[i+1])
		}
		return m
	}
	ack, err := fast.PublishMsg(ctx, msg("pub.a", "one"))
	if err != nil || ack.Stream != "PUB" || ack.Sequence != 1 || ack.Duplicate {
		t.Fatalf("first publish: %+v %v", ack, err)
	}
	ack, err = fast.PublishMsg(ctx, msg("pub.a", "one"))
	if err != nil || ack.Sequence != 1 || !ack.Duplicate {
		t.Fatalf("duplicate: %+v %v", ack, err)
	}
	ack, err = fast.Publish(ctx, "pub.b", []byte("y"))
	if err != nil || ack.Sequence != 2 {
		t.Fatalf("Publish: %+v %v", ack, err)
	}
	_, err = fast.PublishMsg(ctx, msg("pub.a", "", jetstream.ExpectedLastSubjSeqHeader, "0"))
	if !IsWrongLastSeq(err) {
		t.Fatalf("a write expecting an empty subject: %v, want wrong last sequence", err)
	}
	_, werr := js.PublishMsg(ctx, msg("pub.a", "", jetstream.ExpectedLastSubjSeqHeader, "0"))
	if err.Error() != werr.Error() {
		t.Fatalf("refusal reads %q, nats.go's %q", err, werr)
	}
	// Options go to nats.go's publish.
	if _, err := fast.Publish(ctx, "pub.a", []byte("z"), jetstream.WithExpectLastSequencePerSubject(0)); !IsWrongLastSeq(err) {
		t.Fatalf("with an option: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if _, err := fast.Publish(short, "nostream.x", nil); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("no stream: %v, want %v", err, jetstream.ErrNoStreamResponse)
	}
}
