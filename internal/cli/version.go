package cli

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionInfo is what dfctl was built from, read from the binary's build
// information: no server is needed.
type versionInfo struct {
	// Version is the main module's version ("(devel)" for a build that
	// carries none, as go run and go test do).
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built at ("" when unknown).
	Commit string `json:"commit"`
	// Modified says the working tree had changes not in Commit.
	Modified bool `json:"modified"`
	// Go is the toolchain that built the binary.
	Go string `json:"go"`
	// NATSServer and NATSGo are the versions of the NATS server (embedded
	// by dfctl dev) and client libraries linked in.
	NATSServer string `json:"nats_server"`
	NATSGo     string `json:"nats_go"`
}

const (
	modNATSServer = "github.com/nats-io/nats-server/v2"
	modNATSGo     = "github.com/nats-io/nats.go"
)

// readVersion reads the build information of the running binary.
func readVersion() versionInfo { return versionFrom(debug.ReadBuildInfo()) }

// versionFrom reads bi (ok false: the binary carries none). A test binary
// carries no dependencies: their versions are then empty.
func versionFrom(bi *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version()}
	if !ok || bi == nil {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	for _, m := range bi.Deps {
		version := m.Version
		if m.Replace != nil {
			version = cmp.Or(m.Replace.Version, m.Version) // a directory replace has none
		}
		switch m.Path {
		case modNATSServer:
			v.NATSServer = version
		case modNATSGo:
			v.NATSGo = version
		}
	}
	return v
}

// String is the one-line form --version prints.
func (v versionInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dfctl %s", v.Version)
	if v.Commit != "" {
		commit := v.Commit
		if len(commit) > 12 {
			commit = commit[:12]
		}
		fmt.Fprintf(&b, " (commit %s", commit)
		if v.Modified {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ", %s", v.Go)
	if v.NATSServer != "" {
		fmt.Fprintf(&b, ", nats-server %s", v.NATSServer)
	}
	if v.NATSGo != "" {
		fmt.Fprintf(&b, ", nats.go %s", v.NATSGo)
	}
	return b.String()
}

func newVersionCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of dfctl and of the NATS libraries it links",
		Long: `Print the version dfctl was built from: the module version ("(devel)" when
built from a source tree without a tag), the commit and whether the tree
was modified, the Go toolchain, and the versions of the NATS server (the
one dfctl dev embeds) and of the NATS client. No server is contacted.

-o json prints {"version", "commit", "modified", "go", "nats_server",
"nats_go"}.`,
		Example: `  dfctl version
  dfctl --version
  dfctl version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := readVersion()
			switch app.Output {
			case outJSON:
				return writeJSON(app.IO.Out, v)
			case outJSONL:
				return writeJSONL(app.IO.Out, v)
			}
			fmt.Fprintln(app.IO.Out, v.String())
			return nil
		},
	}
}

// setVersion gives root a --version flag that prints the same line as
// dfctl version.
func setVersion(root *cobra.Command) {
	root.Version = readVersion().String()
	root.SetVersionTemplate("{{.Version}}\n")
}
