//go:build !unix

package loadtest

import "net"

// connIO is the unix raw socket I/O (connio_unix.go); elsewhere the net.Conn
// is used as it is.
type connIO struct{ net.Conn }

func newConnIO(net.Conn) *connIO { return nil }
