package natsurl_test

import (
	"strings"
	"testing"

	"github.com/durablefuture/durablefuture/internal/natsurl"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://alice:s3cret@host:4222", "nats://alice:***@host:4222"},
		{"nats://t0ken@host:4222", "nats://***@host:4222"},
		{"tls://alice:p@ss@host", "tls://alice:***@host"},
		{"alice:s3cret@host:4222", "alice:***@host:4222"},
		{"n@h", "***@h"},
		{"nats://a:pw1@h1:4222, nats://b:pw2@h2:4222,nats://tok3@h3,nats://h4",
			"nats://a:***@h1:4222, nats://b:***@h2:4222,nats://***@h3,nats://h4"},
		{"", ""},
	} {
		if got := natsurl.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactIn(t *testing.T) {
	urls := "nats://alice:s3cret@h1,nats://tok3n@h2"
	msg := `parse "nats://alice:s3cret@h1": bad; token tok3n refused; dial nats://tok3n@h2`
	got := natsurl.RedactIn(msg, urls)
	for _, secret := range []string{"s3cret", "tok3n"} {
		if strings.Contains(got, secret) {
			t.Fatalf("RedactIn left %q in %q", secret, got)
		}
	}
	if !strings.Contains(got, "nats://alice:***@h1") || !strings.Contains(got, "nats://***@h2") {
		t.Fatalf("RedactIn: %q", got)
	}
}
