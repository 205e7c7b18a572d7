//go:build !linux

package tracking

// newHangupWatcher returns the portable watcher: one reading goroutine per
// handed-over stream.
func newHangupWatcher(h *Hub) hangupWatcher { return readWatcher{h} }
