package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"time"

	"erpgate"
	"erpgate/order"
	"erpgate/store"
	"erpgate/tracking"
)

// OrderStore is what the gateway needs of the durable store.
type OrderStore interface {
	Accept(ctx context.Context, in store.Intake) (store.Accepted, error)
	Order(ctx context.Context, id string) (*store.Record, error)
	OrderByExternalID(ctx context.Context, shopID, externalID string) (*store.Record, error)
}

// Intake is the one service layer behind every order channel (REST and SOAP),
// so the two cannot drift: validation, identity, idempotency and the durable
// accept happen here and nowhere else.
type Intake struct {
	store OrderStore
	now   func() time.Time
	// accepted, if set, observes the first tracking event of every newly
	// accepted order (the store writes it inside the accept step).
	accepted func(tracking.Event)
}

// NewIntake returns the intake service.
func NewIntake(s OrderStore, now func() time.Time) *Intake {
	if now == nil {
		now = time.Now
	}
	return &Intake{store: s, now: now}
}

// MaxIdempotencyKey bounds the Idempotency-Key header.
const MaxIdempotencyKey = 255

// Submit validates o (as the shop sent it: no ID, shop or timestamps) and
// accepts it durably for shop. It returns the accepted identity; a repeat of
// an earlier submission with the same content returns that order with
// Replayed set. Errors: Invalid/Unprocessable (validation),
// IdempotencyMismatch (same key, different content), Unavailable (store).
func (s *Intake) Submit(ctx context.Context, shop string, o *order.Order, idempotencyKey string) (store.Accepted, error) {
	if err := checkIdempotencyKey(idempotencyKey); err != nil {
		return store.Accepted{}, err
	}
	now := s.now().UTC()
	o.ID, o.ShopID, o.CreatedAt = "", "", time.Time{}
	if err := o.ValidateAt(now); err != nil {
		return store.Accepted{}, err
	}
	fp, err := fingerprint(o)
	if err != nil {
		return store.Accepted{}, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	o.ID = newOrderID(now)
	o.ShopID = shop
	o.CreatedAt = now.Truncate(time.Millisecond)
	ev := tracking.Event{
		Time:    o.CreatedAt,
		Type:    tracking.TypeAccepted,
		Source:  tracking.SourceGateway,
		Summary: "Order received and safely stored",
		Details: map[string]string{"external_id": o.ExternalID},
	}
	acc, err := s.store.Accept(ctx, store.Intake{
		Order:          o,
		Fingerprint:    fp,
		IdempotencyKey: idempotencyKey,
		Token:          newToken(),
		Event:          ev.Encode(),
	})
	if err == nil && !acc.Replayed && s.accepted != nil {
		s.accepted(ev)
	}
	return acc, err
}

func checkIdempotencyKey(k string) error {
	if len(k) > MaxIdempotencyKey {
		return &erpgate.Error{Code: erpgate.Invalid, Message: "Idempotency-Key is too long",
			Problems: []erpgate.Problem{{Field: "Idempotency-Key", Message: "at most 255 characters"}}}
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return &erpgate.Error{Code: erpgate.Invalid, Message: "Idempotency-Key has invalid characters",
				Problems: []erpgate.Problem{{Field: "Idempotency-Key", Message: "printable ASCII without spaces only"}}}
		}
	}
	return nil
}

// fingerprint identifies the content of a submission: the canonical JSON of
// the order as the shop sent it. Decoding into the canonical type first means
// that formatting differences (key order, "19.9" vs "19.90") are not
// differences of content.
func fingerprint(o *order.Order) (string, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newOrderID returns "ord_" and a ULID: 48 bits of milliseconds and 80 random
// bits in Crockford base32, so ids sort by time and never collide in practice.
func newOrderID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("crypto/rand: " + err.Error()) // cannot happen on supported platforms
	}
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	out := make([]byte, 4+26)
	copy(out, "ord_")
	for i := 25; i >= 0; i-- {
		out[4+i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out)
}

// newToken returns a 128-bit random customer tracking token.
func newToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
