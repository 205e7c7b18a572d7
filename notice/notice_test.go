package notice

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"erpgate"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func valid(id string, start time.Time, d time.Duration) Notice {
	return Notice{ID: id, Start: start, End: start.Add(d), Messages: map[string]string{"en": "Upgrade", "de": "Update"},
		Audiences: []string{AudienceCustomers, AudienceShops}}
}

func fields(err error) string {
	var fs []string
	for _, p := range erpgate.ErrorProblems(err) {
		fs = append(fs, p.Field)
	}
	return strings.Join(fs, ",")
}

func TestValidate(t *testing.T) {
	ok := valid("erp-upgrade", now.Add(time.Hour), 2*time.Hour)
	if err := ok.Validate(now); err != nil {
		t.Fatalf("valid notice refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mod    func(*Notice)
		fields string
	}{
		{"bad id", func(n *Notice) { n.ID = "a b" }, "id"},
		{"no start", func(n *Notice) { n.Start = time.Time{} }, "start"},
		{"end before start", func(n *Notice) { n.End = n.Start.Add(-time.Minute) }, "end"},
		{"too long", func(n *Notice) { n.End = n.Start.Add(MaxWindow + time.Second) }, "end"},
		{"ended", func(n *Notice) { n.Start, n.End = now.Add(-2*time.Hour), now }, "end"},
		{"too far ahead", func(n *Notice) { n.Start, n.End = now.Add(MaxAhead+time.Hour), now.Add(MaxAhead+2*time.Hour) }, "start"},
		{"no german", func(n *Notice) { delete(n.Messages, "de") }, "messages.de"},
		{"bad language", func(n *Notice) { n.Messages["english"] = "x" }, "messages"},
		{"control chars", func(n *Notice) { n.Messages["en"] = "a\x00b" }, "messages.en"},
		{"long message", func(n *Notice) { n.Messages["en"] = strings.Repeat("ü", MaxMessageLen+1) }, "messages.en"},
		{"no audience", func(n *Notice) { n.Audiences = nil }, "audiences"},
		{"unknown audience", func(n *Notice) { n.Audiences = []string{"robots"} }, "audiences[0]"},
		{"audience twice", func(n *Notice) { n.Audiences = []string{"shops", "shops"} }, "audiences[1]"},
	} {
		n := valid("erp-upgrade", now.Add(time.Hour), 2*time.Hour)
		tc.mod(&n)
		err := n.Validate(now)
		if erpgate.ErrorCode(err) != erpgate.Invalid || fields(err) != tc.fields {
			t.Errorf("%s: %v (fields %q), want invalid at %q", tc.name, err, fields(err), tc.fields)
		}
	}
}

func TestVisibleActivePausedBanner(t *testing.T) {
	soon := valid("soon", now.Add(time.Hour), time.Hour)      // customers, shops
	later := valid("later", now.Add(72*time.Hour), time.Hour) // beyond a 48h lead
	sup := valid("suppliers", now.Add(-time.Hour), 3*time.Hour)
	sup.Audiences, sup.IntakePaused = []string{AudienceSuppliers}, true
	long := valid("long", now.Add(-time.Hour), 5*time.Hour)
	long.IntakePaused = true
	gone := valid("gone", now.Add(-3*time.Hour), time.Hour)
	ns := []Notice{later, gone, soon, sup, long}

	ids := func(ns []Notice) string {
		var s []string
		for _, n := range ns {
			s = append(s, n.ID)
		}
		return strings.Join(s, ",")
	}
	if got := ids(Visible(ns, now, "")); got != "long,suppliers,soon,later" {
		t.Errorf("Visible(all) = %s", got)
	}
	if got := ids(Visible(ns, now, AudienceCustomers)); got != "long,soon,later" {
		t.Errorf("Visible(customers) = %s", got)
	}
	if got := ids(Active(ns, now)); got != "suppliers,long" {
		t.Errorf("Active = %s (soonest-ending first)", got)
	}
	p, ok := Paused(ns, now)
	if !ok || p.ID != "long" {
		t.Errorf("Paused = %s, %v; want long (ends last)", p.ID, ok)
	}
	err := CheckIntake(ns, now)
	var ip *IntakePausedError
	if erpgate.ErrorCode(err) != erpgate.Unavailable || !errors.As(err, &ip) || !ip.Until.Equal(long.End) ||
		!strings.Contains(erpgate.ErrorMessage(err), "until 2026-12-07T16:00:00Z") {
		t.Errorf("CheckIntake = %v", err)
	}
	if err := CheckIntake(ns, long.End); err != nil {
		t.Errorf("CheckIntake at the window's end = %v, want open", err)
	}

	b, ok := BannerAt([]Notice{soon, later}, now, 48*time.Hour, "de")
	if !ok || b.ID != "soon" || b.Active || b.Message != "Update" || b.IntakeNote == "" {
		t.Errorf("banner = %+v, %v", b, ok)
	}
	if _, ok := BannerAt([]Notice{soon}, now, 30*time.Minute, "en"); ok {
		t.Error("a notice an hour ahead shows with a 30 min lead time")
	}
	if b, ok := BannerAt(ns, now, time.Minute, "fr"); !ok || b.ID != "long" || !b.Active || b.Message != "Upgrade" || !b.IntakePaused {
		t.Errorf("active banner = %+v, %v (French falls back to English)", b, ok)
	}
}

type countingSource struct {
	calls atomic.Int32
	ns    []Notice
	fail  atomic.Bool
}

func (s *countingSource) Notices(context.Context) ([]Notice, error) {
	s.calls.Add(1)
	if s.fail.Load() {
		return nil, erpgate.Errorf(erpgate.Unavailable, "down")
	}
	return s.ns, nil
}

// TestBoardCaches: reads within the TTL share one source read; Invalidate
// forces the next; a failing source keeps the last copy; with no copy at
// all the intake check stays open.
func TestBoardCaches(t *testing.T) {
	src := &countingSource{ns: []Notice{valid("a", now.Add(-time.Minute), time.Hour)}}
	b := NewBoard(BoardConfig{Source: src, TTL: time.Hour, Now: func() time.Time { return now }})
	for range 5 {
		if act, err := b.Active(context.Background()); err != nil || len(act) != 1 {
			t.Fatalf("Active = %v, %v", act, err)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("source read %d times within the TTL, want 1", n)
	}
	b.Invalidate()
	src.fail.Store(true)
	if ns, err := b.Notices(context.Background()); err != nil || len(ns) != 1 {
		t.Errorf("failing refresh = %v, %v; want the last copy", ns, err)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("source read %d times, want 2 (Invalidate forces a read)", n)
	}
	empty := NewBoard(BoardConfig{Source: src})
	if err := empty.CheckIntake(context.Background()); err != nil {
		t.Errorf("CheckIntake with no copy and a failing source = %v, want nil (intake never fails on notices)", err)
	}
	if _, ok := empty.Banner(context.Background(), now, "en"); ok {
		t.Error("a banner without notices")
	}
}

type memStore struct {
	ns      map[string]Notice
	revs    map[string]int64
	failPut bool
}

func (m *memStore) Notices(context.Context) ([]Notice, error) {
	var out []Notice
	for _, n := range m.ns {
		out = append(out, n)
	}
	return out, nil
}
func (m *memStore) Put(_ context.Context, n Notice) (Notice, bool, error) {
	_, ok := m.ns[n.ID]
	m.revs[n.ID]++
	n.Revision = m.revs[n.ID]
	m.ns[n.ID] = n
	return n, !ok, nil
}
func (m *memStore) Delete(_ context.Context, id string) (Notice, error) {
	n, ok := m.ns[id]
	if !ok {
		return Notice{}, erpgate.Errorf(erpgate.NotFound, "no")
	}
	delete(m.ns, id)
	return n, nil
}

// TestServiceAnnounces: scheduled on create, updated on change, cancelled
// on delete of a notice still to come; nothing for a notice without the
// shops; a failed announcement is Unavailable with the notice stored.
func TestServiceAnnounces(t *testing.T) {
	st := &memStore{ns: map[string]Notice{}, revs: map[string]int64{}}
	var told []string
	fail := false
	svc := NewService(st, NewBoard(BoardConfig{Source: st, Now: func() time.Time { return now }}),
		func(_ context.Context, kind string, n Notice) error {
			if fail {
				return errors.New("redis down")
			}
			told = append(told, kind+":"+n.ID)
			return nil
		})
	ctx := context.Background()
	n := valid("x", now.Add(time.Hour), time.Hour)
	if _, created, err := svc.Put(ctx, n, "ops"); err != nil || !created {
		t.Fatal(err)
	}
	act, _ := svc.Board().Active(ctx)
	if len(act) != 0 {
		t.Errorf("active before its window: %v", act)
	}
	if got, _, err := svc.Put(ctx, n, "ops"); err != nil || got.Revision != 2 || got.Actor != "ops" {
		t.Fatalf("update = %+v, %v", got, err)
	}
	cust := valid("cust", now.Add(time.Hour), time.Hour)
	cust.Audiences = []string{AudienceCustomers}
	if _, _, err := svc.Put(ctx, cust, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Delete(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(told, " "); got != "notice.scheduled:x notice.updated:x notice.cancelled:x" {
		t.Errorf("announced %q", got)
	}
	if _, _, err := svc.Put(ctx, Notice{ID: "bad"}, "ops"); erpgate.ErrorCode(err) != erpgate.Invalid {
		t.Errorf("invalid notice = %v", err)
	}
	if _, err := svc.Delete(ctx, "a b"); erpgate.ErrorCode(err) != erpgate.Invalid {
		t.Errorf("bad id delete = %v", err)
	}
	fail = true
	got, _, err := svc.Put(ctx, valid("y", now.Add(time.Hour), time.Hour), "ops")
	if erpgate.ErrorCode(err) != erpgate.Unavailable || got.ID != "y" || st.ns["y"].ID != "y" {
		t.Errorf("failed announcement = %+v, %v; want stored and unavailable", got, err)
	}
}
