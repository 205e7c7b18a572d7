package store

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"

	"erpgate"
)

// The Idempotency-Key in two steps.
//
// An Idempotency-Key record (idem:key:<shop>:<key>) cannot share the slot of
// the order it names: the key is the shop's free choice, the order's
// partition follows from its external id. So an accept with a key is two
// steps, each atomic on its own:
//
//  1. claim: SET NX of "<orderID> <fingerprint> <externalID>" at the key's
//     record — the order id drawn for this request (in the order's
//     partition), the content's fingerprint, and the business key that
//     names the partition;
//  2. the accept of the order in its partition (acceptScript), which is
//     idempotent by the external-id record.
//
// A request that finds the key claimed compares fingerprints: another
// content is IdempotencyMismatch (422, as before). The same content runs
// step 2 with the claim's order id: if the order is stored, the accept
// replays it (same id, same answer); if not — the claiming request crashed
// or lost Redis between the steps, or is still between them — it stores
// it, under the claim's id. A crash between the steps thus leaves a claim
// that the next retry completes: never a lost order (the claim is never
// taken as the order) and never a doubled one (both steps are keyed by
// the same business key). Two identical requests at once converge on one
// order in the same way: the accept script serialises them, one stores and
// the other replays (the answer of today's single-step accept; there is no
// "in flight" refusal, neither before nor now).
//
// A claim whose accept answers mismatch (the external id names an order
// with other content) or replays an order accepted before under another id
// (with another key, or none) is released again, so such a request leaves
// nothing behind, as before.

// afterClaim, when set (tests only), runs right after a successful claim,
// before the accept: the crash window of the two steps.
var afterClaim func()

// claimRelease deletes the claim KEYS[1] if it still holds ARGV[1].
var claimRelease = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// acceptWithKey is Accept for an intake with an Idempotency-Key.
func (s *Store) acceptWithKey(ctx context.Context, in Intake) (Accepted, error) {
	o := in.Order
	ik := idemKey(o.ShopID, in.IdempotencyKey)
	claim := o.ID + " " + in.Fingerprint + " " + o.ExternalID
	// The claim may be released by a concurrent mismatch between the SET NX
	// and the GET below; then it is taken again (a few rounds at most).
	for range 3 {
		won, err := s.rdb.SetNX(ctx, ik, claim, 0).Result()
		if err != nil {
			// The claim may have been written: a retry finds and completes it.
			return Accepted{}, acceptFailed(err)
		}
		if won {
			if afterClaim != nil {
				afterClaim()
			}
			acc, err := s.accept(ctx, in)
			if erpgate.ErrorCode(err) == erpgate.IdempotencyMismatch || (err == nil && acc.OrderID != o.ID) {
				// Refused, or the external id named an order accepted
				// before (under another key or none): as before, the key
				// is left unrecorded.
				s.release(ctx, ik, claim)
			}
			return acc, err
		}
		v, err := s.rdb.Get(ctx, ik).Result()
		if errors.Is(err, redis.Nil) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return Accepted{}, unavailable(err)
		}
		id, fp, _ := parseClaim(v)
		if fp != in.Fingerprint {
			return Accepted{}, mismatch(id)
		}
		// Same key, same content: complete or replay under the claim's id.
		if id != o.ID {
			c := *o
			c.ID = id
			in.Order, in.Doc = &c, nil // the record carries the id: encode it again
		}
		acc, err := s.accept(ctx, in)
		if erpgate.ErrorCode(err) == erpgate.IdempotencyMismatch {
			s.release(ctx, ik, v)
		}
		return acc, err
	}
	return Accepted{}, erpgate.Wrap(erpgate.Unavailable, errors.New("idempotency claim keeps changing"), "order store busy; retry")
}

// release removes claim from ik if it is still there (best effort: a claim
// left behind is completed or refused by the next request with the key).
func (s *Store) release(ctx context.Context, ik, claim string) {
	if err := claimRelease.Run(ctx, s.rdb, []string{ik}, claim).Err(); err != nil {
		s.log.Warn("idempotency claim not released", "err", err)
	}
}

// parseClaim splits "<orderID> <fingerprint> <externalID>".
func parseClaim(v string) (id, fp, ext string) {
	id, rest, _ := strings.Cut(v, " ")
	fp, ext, _ = strings.Cut(rest, " ")
	return id, fp, ext
}
