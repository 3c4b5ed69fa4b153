package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/durablefuture/durablefuture/pkg/devserver"
	"github.com/nats-io/nats.go/jetstream"
)

// The bucket writes published by the Store behave as nats.go's Create and
// Update: a taken key, a deleted one, a stale revision, a TTL, a key
// nats.go refuses.
func TestKVWritesAsNatsGo(t *testing.T) {
	s := openTestStore(t, devserver.Options{Port: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kv, err := s.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "kvfast", Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.kvCreate(ctx, kv, "a.b", []byte("1"), 0)
	if err != nil || rev != 1 {
		t.Fatalf("create: %d %v", rev, err)
	}
	if e, err := kv.Get(ctx, "a.b"); err != nil || string(e.Value()) != "1" || e.Revision() != 1 {
		t.Fatalf("read back: %v %v", e, err)
	}
	_, err = s.kvCreate(ctx, kv, "a.b", []byte("2"), 0)
	_, werr := kv.Create(ctx, "a.b", []byte("2"))
	if !errors.Is(err, jetstream.ErrKeyExists) || !isWrongLastSeq(err) || werr == nil || err.Error() != werr.Error() {
		t.Fatalf("create of a taken key: %v, want %v (nats.go's)", err, werr)
	}
	if _, err := s.kvUpdate(ctx, kv, "a.b", []byte("2"), 7); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || !isWrongLastSeq(err) {
		t.Fatalf("update from a stale revision: %v", err)
	}
	if rev, err = s.kvUpdate(ctx, kv, "a.b", []byte("2"), 1); err != nil || rev != 2 {
		t.Fatalf("update: %d %v", rev, err)
	}
	if err := kv.Delete(ctx, "a.b"); err != nil {
		t.Fatal(err)
	}
	if rev, err = s.kvCreate(ctx, kv, "a.b", []byte("3"), 0); err != nil || rev != 4 {
		t.Fatalf("create over a deleted key: %d %v", rev, err)
	}
	if _, err := s.kvCreate(ctx, kv, ".bad", nil, 0); !errors.Is(err, jetstream.ErrInvalidKey) {
		t.Fatalf("invalid key: %v, want %v", err, jetstream.ErrInvalidKey)
	}
	if _, err := s.kvUpdate(ctx, kv, "bad key", nil, 1); !errors.Is(err, jetstream.ErrInvalidKey) {
		t.Fatalf("invalid key: %v, want %v", err, jetstream.ErrInvalidKey)
	}

	// A claim's TTL reaches the server: the key expires by itself.
	if _, err := s.kvCreate(ctx, s.heartbeats, "ttl.claim.1", nil, time.Second); err != nil {
		t.Fatal(err)
	}
	raw, err := s.JS.Stream(ctx, "KV_"+s.heartbeats.Bucket())
	if err != nil {
		t.Fatal(err)
	}
	m, err := raw.GetLastMsgForSubject(ctx, "$KV."+s.heartbeats.Bucket()+".ttl.claim.1")
	if err != nil || m.Header.Get(jetstream.MsgTTLHeader) != "1s" {
		t.Fatalf("claim message: %v %v", m, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := s.heartbeats.Get(ctx, "ttl.claim.1")
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the claim did not expire: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.kvCreate(ctx, s.heartbeats, "ttl.claim.1", nil, time.Second); err != nil {
		t.Fatalf("create after the expiry: %v", err)
	}
}

// TestStreamPurgeAsNatsGo: streamPurge sends the request nats.go's Purge
// sends, purges what it purges, and fails as it fails.
func TestStreamPurgeAsNatsGo(t *testing.T) {
	for _, c := range []struct {
		filter string
		seq    uint64
	}{{"p.a", 0}, {"p.*", 7}, {"df.idx.*.*.*.*.k-1", 123456789}} {
		got, ok := purgeRequest(c.filter, c.seq)
		want, err := json.Marshal(jetstream.StreamPurgeRequest{Subject: c.filter, Sequence: c.seq})
		if !ok || err != nil || !bytes.Equal(got, want) {
			t.Errorf("purge request of %q %d: %s, want %s (nats.go's)", c.filter, c.seq, got, want)
		}
	}
	for _, f := range []string{`p."a`, `p.\a`, "p.<a>", ""} {
		if _, ok := purgeRequest(f, 0); ok {
			t.Errorf("filter %q was written by hand, not declined", f)
		}
	}
	for data, want := range map[string]bool{
		purgeSuccess + "0}":  true,
		purgeSuccess + "12}": true,
		purgeSuccess + "}":   false,
		purgeSuccess + "1":   false,
		purgeSuccess + "1,}": false,
		purgeSuccess + "-1}": false,
		`{"type":"io.nats.jetstream.api.v1.stream_purge_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}`: false,
	} {
		if purgeSucceeded([]byte(data)) != want {
			t.Errorf("purgeSucceeded(%s) = %v", data, !want)
		}
	}

	s := openTestStore(t, devserver.Options{Port: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := s.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "PURGEFAST", Subjects: []string{"p.>"}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"p.a", "p.b", "p.a", "p.c", "p.b", "p.a"} { // seqs 1-6
		if _, err := s.JS.Publish(ctx, subj, nil); err != nil {
			t.Fatal(err)
		}
	}
	left := func() map[string]uint64 {
		t.Helper()
		info, err := st.Info(ctx, jetstream.WithSubjectFilter("p.>"))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects
	}
	if err := s.streamPurge(ctx, st, "p.*", 3); err != nil {
		t.Fatal(err)
	}
	if got := left(); got["p.a"] != 2 || got["p.b"] != 1 || got["p.c"] != 1 {
		t.Fatalf("after a purge of p.* below 3: %v, want p.a 2, p.b 1, p.c 1", got)
	}
	if err := s.streamPurge(ctx, st, "p.a", 0); err != nil {
		t.Fatal(err)
	}
	if got := left(); got["p.a"] != 0 || got["p.b"] != 1 || got["p.c"] != 1 {
		t.Fatalf("after a purge of p.a: %v, want p.b 1, p.c 1", got)
	}
	// A filter the hand-written request declines goes to nats.go.
	if err, werr := s.streamPurge(ctx, st, `p."x`, 0), st.Purge(ctx, jetstream.WithPurgeSubject(`p."x`)); (err == nil) != (werr == nil) {
		t.Fatalf("a filter with a quote: %v, nats.go: %v", err, werr)
	}

	// Odd filters (outside the stream, empty tokens, wildcards): the
	// server's answer, whatever it is, read as nats.go reads it.
	for _, f := range []string{"q.a", "p..a", "p.>.a", "p.*"} {
		err := s.streamPurge(ctx, st, f, 1)
		werr := st.Purge(ctx, jetstream.WithPurgeSubject(f), jetstream.WithPurgeSequence(1))
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("filter %q: %v, want %v (nats.go's)", f, err, werr)
		}
	}
	if err := s.JS.DeleteStream(ctx, "PURGEFAST"); err != nil {
		t.Fatal(err)
	}
	err = s.streamPurge(ctx, st, "p.a", 0)
	werr := st.Purge(ctx, jetstream.WithPurgeSubject("p.a"))
	if !errors.Is(err, jetstream.ErrStreamNotFound) || werr == nil || err.Error() != werr.Error() {
		t.Fatalf("a deleted stream: %v, want %v (nats.go's)", err, werr)
	}
}
