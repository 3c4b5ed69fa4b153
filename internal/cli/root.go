// Package cli implements dfctl, the DurableFuture command-line tool: one file
// per command, each with an options struct holding its flags, the IO streams
// and the lazily dialled client.
//
// It builds on pkg/sdk and pkg/engine and must never be imported by them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/durablefuture/durablefuture/pkg/sdk/client"
	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
)

// Output formats.
const (
	outText  = "text"
	outJSON  = "json"
	outJSONL = "jsonl"
)

// App is what every command shares: the streams, the global flags and the
// client, dialled on first use.
type App struct {
	IO *IOStreams

	Server      string
	ContextName string
	Creds       string
	TLSCert     string
	TLSKey      string
	TLSCA       string
	Prefix      string
	Output      string
	Timeout     time.Duration

	client *client.Client
	conn   *nats.Conn
	// started is set once a command's own code runs: an error before it is
	// a usage error (unknown command, bad flags or arguments).
	started bool
}

// Run executes dfctl with args and returns its exit code. ctx is cancelled
// on SIGINT/SIGTERM by main.
func Run(ctx context.Context, args []string, ios *IOStreams) int {
	app := &App{IO: ios}
	root := NewRootCmd(app)
	root.SetArgs(args)
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	err := root.ExecuteContext(ctx)
	app.close()
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	if !app.started {
		var ee *ExitError
		if !errors.As(err, &ee) {
			code = ExitUsage
		}
	}
	var ee *ExitError
	if errors.As(err, &ee) && ee.Silent {
		return code
	}
	if code == ExitInterrupt {
		fmt.Fprintln(ios.ErrOut, "interrupted")
		return code
	}
	st := ios.ErrStyles()
	fmt.Fprintln(ios.ErrOut, st.bad.Render("Error:")+" "+err.Error())
	if code == ExitUsage && !app.started {
		fmt.Fprintln(ios.ErrOut, "Run 'dfctl --help' for usage.")
	}
	return code
}

// NewRootCmd builds the dfctl command tree.
func NewRootCmd(app *App) *cobra.Command {
	root := &cobra.Command{
		Use:   "dfctl",
		Short: "Run and inspect DurableFuture workflows",
		Long: `dfctl starts, waits for and inspects DurableFuture workflows, whose every
step is recorded in NATS JetStream.

Quick start:
  dfctl demo                     run an example workflow in one process
  dfctl dev --examples           a development server with the example workers
  dfctl execute OrderWorkflow --input '"cust-1"' --input '"prod-9"' --input 99.5 --input 2
  dfctl list; dfctl show ID

Output: data goes to stdout, progress and errors to stderr. On a terminal
output has colour (NO_COLOR turns it off) and relative times; otherwise it is
plain, tab-separated, with ISO 8601 times. -o json and -o jsonl give the
stable JSON contracts for scripts.

` + exitCodesDocs,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch app.Output {
			case outText, outJSON, outJSONL:
			default:
				return usageError("--output %q: use text, json or jsonl", app.Output)
			}
			if app.Timeout <= 0 {
				return usageError("--timeout must be positive")
			}
			app.started = true
			return nil
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &ExitError{Code: ExitUsage, Err: err}
	})
	defServer := os.Getenv("NATS_URL")
	if defServer == "" {
		defServer = nats.DefaultURL
	}
	f := root.PersistentFlags()
	f.StringVarP(&app.Server, "server", "s", defServer, "NATS server URL ($NATS_URL)")
	f.StringVar(&app.ContextName, "context", os.Getenv("NATS_CONTEXT"), "connect with the nats CLI context `NAME` ($NATS_CONTEXT)")
	f.StringVar(&app.Creds, "creds", "", "NATS user credentials file")
	f.StringVar(&app.TLSCert, "tlscert", "", "TLS client certificate file")
	f.StringVar(&app.TLSKey, "tlskey", "", "TLS client key file")
	f.StringVar(&app.TLSCA, "tlsca", "", "TLS CA certificate file")
	f.StringVar(&app.Prefix, "prefix", "df", "prefix of the DurableFuture streams, subjects and buckets")
	f.StringVarP(&app.Output, "output", "o", outText, "output format: text, json or jsonl")
	f.DurationVar(&app.Timeout, "timeout", 10*time.Second, "timeout of each request to the server (waiting for a workflow is not bounded)")

	root.AddCommand(
		newDevCmd(app),
		newDemoCmd(app),
		newStartCmd(app),
		newExecuteCmd(app),
		newDescribeCmd(app),
		newShowCmd(app),
		newListCmd(app),
		newResultCmd(app),
		newBenchCmd(app),
		newSignalCmd(app),
		newQueryCmd(app),
		newCancelCmd(app),
		newTerminateCmd(app),
		newTUICmd(app),
		newReplayCmd(app), newResetCmd(app),
	)
	return root
}

// natsOptions are the connection options from the global flags and the
// selected nats context; url is where to connect.
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
	if a.Creds != "" {
		opts = append(opts, nats.UserCredentials(a.Creds))
	}
	if a.TLSCert != "" || a.TLSKey != "" {
		opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	return url, opts, nil
}

// Client dials the server on first use.
func (a *App) Client(cmd *cobra.Command) (*client.Client, error) {
	if a.client != nil {
		return a.client, nil
	}
	url, opts, err := a.natsOptions(cmd)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, &connectError{url: redact(url), err: err}
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), a.Timeout)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{Conn: nc, Prefix: a.Prefix, ConnectTimeout: a.Timeout})
	if err != nil {
		nc.Close()
		return nil, &ExitError{Code: ExitServer, Err: err}
	}
	// The client does not own a connection it was given.
	a.client = c
	a.conn = nc
	return c, nil
}

func (a *App) close() {
	if a.client != nil {
		a.client.Close()
		a.conn.Close()
	}
}

// requestContext bounds one request by --timeout.
func (a *App) requestContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), a.Timeout)
}

func redact(url string) string {
	if i := strings.Index(url, "@"); i >= 0 {
		if j := strings.Index(url, "://"); j >= 0 && j < i {
			return url[:j+3] + "***" + url[i:]
		}
	}
	return url
}
