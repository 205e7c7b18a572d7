package tracking

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
)

// epollWatcher notices clients that closed their connection (FIN or RST)
// with one epoll instance and one goroutine for all streams: no goroutine
// per connection. Each connection's descriptor is added edge-triggered for
// EPOLLRDHUP (HUP and ERR are always reported), with a token naming the
// stream; closing the connection removes the descriptor from the set by
// itself, and a token of a stream already gone is ignored.
type epollWatcher struct {
	h        *Hub
	epfd     int
	wakeR    int // a pipe in the set (token 0) wakes the loop to stop
	wakeW    int
	fallback readWatcher
	mu       sync.Mutex
	next     uint64
	streams  map[uint64]*connStream
	done     chan struct{} // closed by stop
	exited   chan struct{} // closed when loop returns
	stopOnce sync.Once
}

const epollET = 1 << 31 // syscall.EPOLLET is a negative int

// newHangupWatcher returns the epoll watcher, or the reading goroutines if
// epoll cannot be set up.
func newHangupWatcher(h *Hub) hangupWatcher {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		h.log.Warn("tracking hub: no epoll; watching stream hangups with a goroutine each", "err", err)
		return readWatcher{h}
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		h.log.Warn("tracking hub: no pipe; watching stream hangups with a goroutine each", "err", err)
		return readWatcher{h}
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(p[0])
		syscall.Close(p[1])
		h.log.Warn("tracking hub: epoll unusable; watching stream hangups with a goroutine each", "err", err)
		return readWatcher{h}
	}
	w := &epollWatcher{
		h: h, epfd: epfd, wakeR: p[0], wakeW: p[1], fallback: readWatcher{h},
		next: 1, streams: make(map[uint64]*connStream), done: make(chan struct{}), exited: make(chan struct{}),
	}
	h.workers.Go(w.loop)
	return w
}

func (w *epollWatcher) watch(cs *connStream) {
	raw, err := rawConn(cs.conn)
	if err == nil {
		w.mu.Lock()
		tok := w.next
		w.next++
		cs.token = tok
		w.streams[tok] = cs
		w.mu.Unlock()
		ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | epollET}
		ev.Fd, ev.Pad = int32(uint32(tok)), int32(uint32(tok>>32))
		cerr := raw.Control(func(fd uintptr) {
			err = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		})
		if cerr == nil && err == nil {
			return
		}
		w.forget(cs)
		if cerr != nil {
			return // closed already
		}
	}
	w.fallback.watch(cs)
}

func (w *epollWatcher) forget(cs *connStream) {
	w.mu.Lock()
	if cs.token != 0 {
		delete(w.streams, cs.token)
		cs.token = 0
	}
	w.mu.Unlock()
}

// stop ends the loop and releases the descriptors.
func (w *epollWatcher) stop() {
	w.stopOnce.Do(func() {
		close(w.done)
		syscall.Write(w.wakeW, []byte{0})
		<-w.exited
		syscall.Close(w.epfd)
		syscall.Close(w.wakeR)
		syscall.Close(w.wakeW)
	})
}

func (w *epollWatcher) loop() {
	defer close(w.exited)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(w.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			w.h.log.Error("tracking hub: epoll wait failed; stream hangups are noticed by heartbeats only", "err", err)
			<-w.done
			return
		}
		for _, ev := range events[:n] {
			tok := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if tok == 0 {
				select {
				case <-w.done:
					return
				default:
					continue
				}
			}
			w.mu.Lock()
			cs := w.streams[tok]
			w.mu.Unlock()
			if cs != nil {
				w.h.closeConn(cs)
			}
		}
	}
}

// rawConn returns the descriptor access of a TCP or Unix connection (also
// under TLS).
func rawConn(c net.Conn) (syscall.RawConn, error) {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a system connection")
	}
	return sc.SyscallConn()
}
