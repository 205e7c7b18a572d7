package notice

import (
	"context"
	"time"

	"erpgate"
)

// Store keeps the notices (store.Notices in Redis).
type Store interface {
	Source
	// Put stores n (Revision, Actor, UpdatedAt are set by the store) and
	// reports whether it was new. Errors: Unprocessable (too many notices),
	// Unavailable.
	Put(ctx context.Context, n Notice) (Notice, bool, error)
	// Delete removes the notice and returns it. Errors: NotFound,
	// Unavailable.
	Delete(ctx context.Context, id string) (Notice, error)
}

// Webhook event kinds a change announces to shops.
const (
	Scheduled = "notice.scheduled" // a new notice
	Updated   = "notice.updated"   // a changed notice
	Cancelled = "notice.cancelled" // a deleted notice whose window had not ended
)

// Announcer tells the shops about a change of a notice that has them in
// its audience (kind is Scheduled, Updated or Cancelled): the gateway's
// signed webhooks. Errors: Unavailable.
type Announcer func(ctx context.Context, kind string, n Notice) error

// Service is the admin's use of notices: validate, store, make this
// instance see the change at once, and announce it to the shops.
type Service struct {
	store    Store
	board    *Board
	announce Announcer
}

// NewService returns the service; announce may be nil (no webhooks).
func NewService(st Store, board *Board, announce Announcer) *Service {
	return &Service{store: st, board: board, announce: announce}
}

// Board returns the cached view.
func (s *Service) Board() *Board { return s.board }

// Put validates and stores n on behalf of actor, and announces it to the
// shops when they are in its audience. It returns the stored notice and
// whether it was new. Errors: Invalid (see Validate), Unprocessable,
// Unavailable (storing; or announcing, after the notice was stored — PUT
// it again to announce it).
func (s *Service) Put(ctx context.Context, n Notice, actor string) (Notice, bool, error) {
	now := s.board.Now()
	if err := n.Validate(now); err != nil {
		return Notice{}, false, err
	}
	n.Start, n.End = n.Start.UTC(), n.End.UTC()
	n.Actor, n.UpdatedAt = actor, now.UTC().Truncate(time.Millisecond)
	stored, created, err := s.store.Put(ctx, n)
	if err != nil {
		return Notice{}, false, err
	}
	s.board.Invalidate()
	kind := Updated
	if created {
		kind = Scheduled
	}
	return stored, created, s.tell(ctx, kind, stored)
}

// Delete removes the notice id and, when its window has not ended, tells
// the shops it is cancelled. Errors: Invalid (id), NotFound, Unavailable.
func (s *Service) Delete(ctx context.Context, id string) (Notice, error) {
	if !ValidID(id) {
		return Notice{}, erpgate.Errorf(erpgate.Invalid, "a notice id has 1 to %d letters, digits, '_' or '-'", MaxIDLen)
	}
	n, err := s.store.Delete(ctx, id)
	if err != nil {
		return Notice{}, err
	}
	s.board.Invalidate()
	if n.End.After(s.board.Now()) {
		return n, s.tell(ctx, Cancelled, n)
	}
	return n, nil
}

func (s *Service) tell(ctx context.Context, kind string, n Notice) error {
	if s.announce == nil || !n.For(AudienceShops) {
		return nil
	}
	if err := s.announce(ctx, kind, n); err != nil {
		return erpgate.Wrap(erpgate.Unavailable, err, "the notice is stored, but announcing it to the shops failed; send it again")
	}
	return nil
}
