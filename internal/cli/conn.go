package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/durablefuture/durablefuture/internal/natsurl"
	"github.com/durablefuture/durablefuture/pkg/engine"
	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

// Client dials the server on first use and creates the installation's
// streams and buckets (with --replicas) if there is none: for the commands
// that write (start, execute, signal, cancel, terminate, reset, bench). An
// existing installation is used as it is: dfctl never changes the settings
// its workers created it with (an R3 stream stays R3).
func (a *App) Client(cmd *cobra.Command) (*client.Client, error) { return a.dial(cmd, false) }

// ReadClient dials the server on first use and binds to an existing
// installation, creating nothing: for the commands that only read
// (describe, show, list, result, query, replay, tui). A server without one
// gets "no DurableFuture installation", not a fresh empty one.
func (a *App) ReadClient(cmd *cobra.Command) (*client.Client, error) { return a.dial(cmd, true) }

func (a *App) dial(cmd *cobra.Command, existing bool) (*client.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	url, opts, err := a.natsOptions(cmd)
	if err != nil {
		return nil, err
	}
	a.url = url
	a.watch = &connWatch{url: natsurl.Redact(url), grace: a.Timeout, cancel: a.cancel}
	nc, err := nats.Connect(url, append(opts, a.watch.options()...)...)
	if err != nil {
		return nil, &connectError{url: natsurl.Redact(url), err: natsurl.RedactErr(err, url)}
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), a.Timeout)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{Conn: nc, Prefix: a.Prefix, Partitions: a.Partitions, ConnectTimeout: a.Timeout, OpenExisting: true})
	if !existing && errors.Is(err, engine.ErrNoInstallation) {
		c, err = client.Dial(ctx, client.Options{Conn: nc, Prefix: a.Prefix, Replicas: a.Replicas, Partitions: a.Partitions, ConnectTimeout: a.Timeout})
	}
	a.connected = natsurl.Redact(nc.ConnectedUrl())
	if err != nil {
		nc.Close()
		return nil, &ExitError{Code: ExitCode(err), Err: err}
	}
	// The client does not own a connection it was given.
	a.client = c
	a.conn = nc
	return c, nil
}

// natsOptions are the connection options from the global flags and the
// selected nats context; url is where to connect. Files named by flags are
// checked here, so that a typo is a usage error naming the flag and the
// file, not a connection failure.
func (a *App) natsOptions(cmd *cobra.Command) (url string, opts []nats.Option, err error) {
	url = a.Server
	opts = []nats.Option{nats.Name("dfctl"), nats.Timeout(3 * time.Second), nats.MaxReconnects(-1)}
	if a.ContextName != "" {
		nctx, err := natscontext.New(a.ContextName, true)
		if err != nil {
			return "", nil, usageError("nats context %q: %v", a.ContextName, err)
		}
		copts, err := nctx.NATSOptions()
		if err != nil {
			return "", nil, usageError("nats context %q: %v", a.ContextName, err)
		}
		opts = append(opts, copts...)
		if !cmd.Flags().Changed("server") && nctx.ServerURL() != "" {
			url = nctx.ServerURL()
		}
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		return "", nil, usageError("--tlscert and --tlskey go together: give the client certificate and its private key")
	}
	if a.Creds != "" {
		o := nats.UserCredentials(a.Creds)
		if err := checkFileOption(o); err != nil {
			return "", nil, fileFlagError("--creds", a.Creds, "not a NATS credentials file", err)
		}
		opts = append(opts, o)
	}
	if a.TLSCert != "" {
		for _, f := range [][2]string{{"--tlscert", a.TLSCert}, {"--tlskey", a.TLSKey}} {
			if err := checkReadable(f[1]); err != nil {
				return "", nil, fileFlagError(f[0], f[1], "", err)
			}
		}
		o := nats.ClientCert(a.TLSCert, a.TLSKey)
		if err := checkFileOption(o); err != nil {
			return "", nil, usageError("--tlscert %s, --tlskey %s: not a certificate and its key: %v", a.TLSCert, a.TLSKey, err)
		}
		opts = append(opts, o)
	}
	if a.TLSCA != "" {
		if err := checkReadable(a.TLSCA); err != nil {
			return "", nil, fileFlagError("--tlsca", a.TLSCA, "", err)
		}
		o := nats.RootCAs(a.TLSCA)
		if err := checkFileOption(o); err != nil {
			return "", nil, fileFlagError("--tlsca", a.TLSCA, "not a PEM CA certificate", err)
		}
		opts = append(opts, o)
	}
	return url, opts, nil
}

func checkReadable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Read(make([]byte, 1))
	return err
}

// checkFileOption applies a nats option that reads files to scratch
// options, and runs its credential callbacks, as connecting would.
func checkFileOption(opt nats.Option) error {
	o := nats.GetDefaultOptions()
	if err := opt(&o); err != nil {
		return err
	}
	if o.UserJWT != nil {
		if _, err := o.UserJWT(); err != nil {
			return err
		}
	}
	if o.SignatureCB != nil {
		if _, err := o.SignatureCB([]byte("dfctl")); err != nil {
			return err
		}
	}
	return nil
}

// fileFlagError is the usage error of a file flag: "--creds FILE: no such
// file or directory", or "--creds FILE: <bad>: <why>" for a file that was
// read but is not what the flag needs.
func fileFlagError(flag, path, bad string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return usageError("%s %s: cannot read it: %v", flag, path, pe.Err)
	}
	if bad == "" {
		return usageError("%s %s: %v", flag, path, err)
	}
	return usageError("%s %s: %s: %v", flag, path, bad, err)
}

// runIDRE is what a run ID may be: one subject token (run IDs are UUIDs).
var runIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// validateRunID checks a --run value: a run ID becomes a token of a
// subject, so a wildcard, a dot or a space would name other subjects.
func validateRunID(id string) error {
	if !runIDRE.MatchString(id) {
		return usageError("--run %q: a run ID is a UUID such as 0190b3a4-0000-7000-8000-000000000000 (letters, digits, '-' and '_'; no wildcards, dots or spaces)", id)
	}
	return nil
}

// connWatch follows the connection of one command. A connection that drops
// and is not back within grace (--timeout) ends the command with a
// *connectionLostError, the cause of its context, instead of a wait that
// never ends or a bare "context deadline exceeded".
type connWatch struct {
	url    string // redacted
	grace  time.Duration
	cancel context.CancelCauseFunc
	// keep: the command rides out an outage (the TUI shows it and carries on).
	keep bool

	mu    sync.Mutex
	down  bool
	cause error
	timer *time.Timer
}

func (w *connWatch) options() []nats.Option {
	return []nats.Option{
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // dfctl closed it
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			w.down, w.cause = true, err
			if w.cancel != nil && !w.keep && w.timer == nil {
				w.timer = time.AfterFunc(w.grace, func() { w.cancel(w.lostError()) })
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.down = false
			if w.timer != nil {
				w.timer.Stop()
				w.timer = nil
			}
		}),
	}
}

// rideOut keeps the command going through outages of any length: the TUI
// shows the error on its status line and carries on when the server is back.
func (w *connWatch) rideOut() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keep = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

// lost returns the error to report when the connection is down, nil when
// it is up.
func (w *connWatch) lost() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.down {
		return nil
	}
	return &connectionLostError{url: w.url, err: w.cause}
}

func (w *connWatch) lostError() error {
	if err := w.lost(); err != nil {
		return err
	}
	return &connectionLostError{url: w.url}
}

// connectionLostError: the server went away after dfctl connected (exit 3).
type connectionLostError struct {
	url string
	err error
}

func (e *connectionLostError) Error() string {
	why := ""
	if e.err != nil {
		why = " (" + e.err.Error() + ")"
	}
	return fmt.Sprintf("connection lost to NATS at %s%s: the server stopped answering after dfctl connected; check that it runs, then retry", e.url, why)
}

func (e *connectionLostError) Unwrap() error { return e.err }

// explain turns the errors a user can act on into a message that says what
// happened on which server and what to do; other errors pass unchanged.
func (a *App) explain(ctx context.Context, err error) error {
	code := ExitCode(err)
	var lost *connectionLostError
	switch {
	case errors.As(context.Cause(ctx), &lost) && (code == ExitServer || code == ExitInterrupt):
		return &ExitError{Code: ExitServer, Err: lost}
	case code == ExitServer && a.watch.lost() != nil:
		return &ExitError{Code: ExitServer, Err: a.watch.lost()}
	}
	where := a.connected
	if where == "" {
		where = natsurl.Redact(a.url)
	}
	var noInst *engine.NoInstallationError
	switch {
	case errors.Is(err, engine.ErrJetStreamNotEnabled):
		return &ExitError{Code: ExitServer, Err: fmt.Errorf("JetStream is not enabled on %s: start nats-server with -js (or a jetstream {} block in its config), or run `dfctl dev`", where)}
	case errors.As(err, &noInst):
		return &ExitError{Code: ExitNotFound, Err: fmt.Errorf("no DurableFuture installation with prefix %q on %s (no %s): start a worker or run `dfctl dev`, or pass the right --prefix/--server", noInst.Prefix, where, noInst.Missing)}
	}
	if desc, ok := storageFull(err); ok {
		return &ExitError{Code: ExitServer, Err: fmt.Errorf("JetStream storage is full on %s (%s): free space (purge old runs, raise max_file_store in the server's jetstream config or the account's storage limit, add disk), then retry", where, desc)}
	}
	return err
}
