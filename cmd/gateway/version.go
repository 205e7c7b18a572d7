package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Build information, stamped at build time:
//
//	go build -ldflags "-X main.version=1.4.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/gateway
//
// Unstamped, the module's VCS information is used (go build records it
// unless -buildvcs=false, which CI sets); without that too, the version is
// "dev" and the commit "unknown" — said honestly, never guessed.
var (
	version = ""
	commit  = ""
)

// build is what this binary knows about its own build.
type build struct {
	Version   string
	Commit    string
	Modified  bool // built from a tree with uncommitted changes (VCS info only)
	GoVersion string
}

// unknownCommit is the commit of a build that recorded none.
const unknownCommit = "unknown"

// buildInfo returns the build information: -ldflags first, then the
// module's VCS information, then "dev" / "unknown".
func buildInfo() build {
	b := build{Version: version, Commit: commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		if b.Commit == "" {
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					b.Commit = s.Value
				case "vcs.modified":
					b.Modified = s.Value == "true"
				}
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit, b.Modified = unknownCommit, false
	}
	return b
}

// String is the --version line.
func (b build) String() string {
	dirty := ""
	if b.Modified {
		dirty = " (modified)"
	}
	return fmt.Sprintf("erpgate gateway %s commit %s%s %s", b.Version, b.Commit, dirty, b.GoVersion)
}

func printVersion(w io.Writer) error {
	_, err := fmt.Fprintln(w, buildInfo())
	return err
}

// registerBuildInfo exports erpgate_build_info{version,commit,goversion} = 1;
// a commit from a modified tree is marked "-modified".
func registerBuildInfo(reg prometheus.Registerer) {
	b := buildInfo()
	c := b.Commit
	if b.Modified {
		c += "-modified"
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "erpgate_build_info",
		Help: "Build information (version, commit; \"dev\"/\"unknown\" for an unstamped build); always 1.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(b.Version, c, b.GoVersion).Set(1)
	reg.MustRegister(g)
}
