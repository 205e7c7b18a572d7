// Package partition maps erpgate's data onto P partitions, each under one
// Redis Cluster hash tag, so that every key one atomic step touches lives in
// one slot (and so on one node) while the partitions spread over the cluster.
//
// An order's partition is a function of its business key (shop, external
// id), and its id is drawn so that the id alone names the same partition:
// NewID draws random ids until one hashes to the wanted partition (P draws
// on average, about a microsecond). Every key of an order — its record, its
// external-id idempotency record, its timeline — and the partition's outbox
// and tracking-feed streams carry the partition's tag.
//
// The tags are chosen, not hashed: partition p's tag is the first string
// "pP.K" (K = 0, 1, …) whose slot falls in the p-th of P equal slot ranges,
// so that any even split of the 16384 slots over the primaries (what
// `redis-cli --cluster create` does) gives each primary an even share of
// the partitions. The same tags are used on a single node, where they are
// just part of the key names: one key layout for every mode.
//
// The number of partitions is recorded in Redis at first start and cannot
// change without moving data (see docs/operators.md, "Scale").
package partition

import (
	"fmt"
	"hash/crc32"
	"strconv"
)

// Slots is the number of Redis Cluster hash slots.
const Slots = 16384

// Default and Max are the default and the largest partition count.
const (
	Default = 16
	Max     = 1024
)

// Space is a partition count with its tags. The zero Space is not usable;
// New makes one.
type Space struct {
	tags []string
}

// New returns the space of n partitions (1 ≤ n ≤ Max).
func New(n int) (Space, error) {
	if n < 1 || n > Max {
		return Space{}, fmt.Errorf("partitions: %d is out of range 1–%d", n, Max)
	}
	tags := make([]string, n)
	for p := range n {
		lo, hi := p*Slots/n, (p+1)*Slots/n
		for k := 0; ; k++ {
			t := "p" + strconv.Itoa(p) + "." + strconv.Itoa(k)
			if s := int(Slot(t)); s >= lo && s < hi {
				tags[p] = "{" + t + "}"
				break
			}
		}
	}
	return Space{tags: tags}, nil
}

// MustNew is New for counts known to be valid (tests, defaults).
func MustNew(n int) Space {
	s, err := New(n)
	if err != nil {
		panic(err)
	}
	return s
}

// N returns the number of partitions.
func (s Space) N() int { return len(s.tags) }

// Tag returns partition p's hash tag, braces included: "{p3.17}".
func (s Space) Tag(p int) string { return s.tags[p] }

// Of returns the partition of a key: of an order id, a supplier id, or a
// business key made with Join.
func (s Space) Of(key string) int {
	return int(crc32.ChecksumIEEE([]byte(key)) % uint32(len(s.tags)))
}

// TagOf is Tag(Of(key)).
func (s Space) TagOf(key string) string { return s.tags[s.Of(key)] }

// Join makes one business key of parts that never contain NUL (shop and
// external id, say).
func Join(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return string(b)
}

// NewID draws ids with gen until one belongs to partition p. gen must draw
// from a space large enough that P draws are cheap and collisions
// negligible (erpgate's ids carry 130 random bits).
func (s Space) NewID(p int, gen func() string) string {
	for {
		if id := gen(); s.Of(id) == p {
			return id
		}
	}
}

// Slot returns the Redis Cluster slot of a key, honouring hash tags as Redis
// does: the part between the first '{' and the next '}' when that part is
// not empty.
func Slot(key string) uint16 {
	for i := 0; i < len(key); i++ {
		if key[i] == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						key = key[i+1 : j]
					}
					return crc16(key) % Slots
				}
			}
			break
		}
	}
	return crc16(key) % Slots
}

// crc16 is CRC-16/XMODEM, the hash Redis Cluster uses for slots.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
