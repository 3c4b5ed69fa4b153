// Package natsurl makes NATS server URLs safe to print: every message and
// log line of dfctl, the SDK client and the examples that names a server
// goes through Redact (or RedactIn, for text that may quote one), so that
// no password or token from a URL reaches a terminal or a log file.
//
// It imports nothing of the project and must stay that way: the SDK imports
// it.
package natsurl

import "strings"

// Mask replaces a password or a token.
const Mask = "***"

// Redact returns urls, one URL or a comma-separated list as nats.Connect
// takes it, with the secret of each replaced by Mask: the password of
// user:password@host (the user name is kept) and the token of token@host.
// Text without user information is returned unchanged.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if start, end, _ := userinfo(p); end > start {
			parts[i] = p[:start] + masked(p[start:end]) + p[end:]
		}
	}
	return strings.Join(parts, ",")
}

// RedactIn returns msg with the user information of every URL of urls
// masked wherever msg quotes it, and each secret too when it is quoted on
// its own (an error of the client library may quote a URL or a part of one).
func RedactIn(msg, urls string) string {
	for _, p := range strings.Split(urls, ",") {
		start, end, secret := userinfo(p)
		if end <= start {
			continue
		}
		msg = strings.ReplaceAll(msg, p[start:end]+"@", masked(p[start:end])+"@")
		if len(secret) >= 3 { // a shorter one would mask ordinary words
			msg = strings.ReplaceAll(msg, secret, Mask)
		}
	}
	return msg
}

// userinfo locates the user information of one URL: from after
// "scheme://" (or the start) to the last '@'; the last, so that a secret
// holding an '@' is masked whole. secret is the password, or the whole of
// it when it is a token.
func userinfo(u string) (start, end int, secret string) {
	if i := strings.Index(u, "://"); i >= 0 {
		start = i + 3
	} else {
		start = len(u) - len(strings.TrimLeft(u, " \t"))
	}
	at := strings.LastIndex(u[start:], "@")
	if at <= 0 {
		return 0, 0, ""
	}
	end = start + at
	info := u[start:end]
	if _, pass, ok := strings.Cut(info, ":"); ok {
		return start, end, pass
	}
	return start, end, info
}

// masked is user information with its secret masked.
func masked(info string) string {
	if user, _, ok := strings.Cut(info, ":"); ok {
		return user + ":" + Mask
	}
	return Mask
}

// RedactErr returns err with its message passed through RedactIn; errors.Is
// and errors.As still see err.
func RedactErr(err error, urls string) error {
	if err == nil {
		return nil
	}
	if msg := RedactIn(err.Error(), urls); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
