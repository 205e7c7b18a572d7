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
	content, err := json.Marshal(o)
	if err != nil {
		return store.Accepted{}, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	fp := fingerprint(content)
	o.ID = newOrderID(now)
	o.ShopID = shop
	o.CreatedAt = now.Truncate(time.Millisecond)
	doc, err := withIdentity(content, o)
	if err != nil {
		return store.Accepted{}, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
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
		Doc:            doc,
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

// fingerprint identifies the content of a submission: the SHA-256 of the
// canonical JSON of the order as the shop sent it (json.Marshal of the
// order without id, shop and creation time). Decoding into the canonical
// type first means that formatting differences (key order, "19.9" vs
// "19.90") are not differences of content. Stored idempotency records hold
// it, so it must never change for the same content.
func fingerprint(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

// withIdentity returns json.Marshal(o) built from content, the JSON of o
// without ID, ShopID and CreatedAt, instead of encoding the order a second
// time: Order's JSON begins with "id" and "shop_id" (omitempty) and ends
// with "created_at" (omitzero), and content always holds "external_id", so
// the record is content with those fields spliced in at both ends.
// TestWithIdentity holds it to json.Marshal.
func withIdentity(content []byte, o *order.Order) ([]byte, error) {
	if len(content) < 2 || content[0] != '{' || content[len(content)-1] != '}' || len(content) == 2 {
		return json.Marshal(o) // cannot happen for an Order; be correct anyway
	}
	var created []byte
	if !o.CreatedAt.IsZero() {
		var err error
		if created, err = o.CreatedAt.MarshalJSON(); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, len(content)+len(o.ID)+len(o.ShopID)+len(created)+48)
	b = append(b, '{')
	if o.ID != "" {
		b = append(b, `"id":`...)
		b = appendJSONString(b, o.ID)
		b = append(b, ',')
	}
	if o.ShopID != "" {
		b = append(b, `"shop_id":`...)
		b = appendJSONString(b, o.ShopID)
		b = append(b, ',')
	}
	b = append(b, content[1:len(content)-1]...)
	if created != nil {
		b = append(b, `,"created_at":`...)
		b = append(b, created...)
	}
	return append(b, '}'), nil
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
