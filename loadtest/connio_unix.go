//go:build unix

package loadtest

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// connIO reads and writes a non-blocking socket with raw system calls
// through the runtime's poller (syscall.RawConn). A read or write of a
// non-blocking socket never blocks (it returns EAGAIN, and then the poller
// waits), so there is no need to tell the scheduler that a blocking call
// starts, as net.Conn does. Told, the scheduler hands the P to another
// thread whenever such a call lasts a little long (a loopback write does
// the receiving side's TCP work too) and keeps its monitor thread polling
// every 20 µs: in a profile of the tool at 10,000 requests a second, about
// a tenth of its CPU.
//
// (Waiting for readability before the first read after a request, to save
// the attempt that finds nothing, does not work: the poller forgets a
// readiness that arrived before the wait began, and the request would hang.)
//
// Deadlines and Close work as on the net.Conn (the poller enforces them).
type connIO struct {
	rc syscall.RawConn
}

// newConnIO returns c's raw I/O, or nil when c offers none.
func newConnIO(c net.Conn) *connIO {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &connIO{rc: rc}
}

func (c *connIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n   int
		err error
	)
	perr := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case 0:
				n = int(r)
				if n == 0 {
					err = io.EOF
				}
				return true
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			default:
				err = e
				return true
			}
		}
	})
	if perr != nil {
		return 0, perr
	}
	return n, err
}

func (c *connIO) Write(p []byte) (int, error) {
	var (
		n   int
		err error
	)
	for n < len(p) && err == nil {
		perr := c.rc.Write(func(fd uintptr) bool {
			for {
				q := p[n:]
				r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&q[0])), uintptr(len(q)))
				switch e {
				case 0:
					n += int(r)
					if n == len(p) {
						return true
					}
				case syscall.EINTR:
				case syscall.EAGAIN:
					return false // the send buffer is full: wait until writable
				default:
					err = e
					return true
				}
			}
		})
		if perr != nil {
			return n, perr
		}
	}
	return n, err
}
