package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/store"
	"erpgate/supply"
)

func ackDoc(id, supplier, docID, po string) *supply.Document {
	return &supply.Document{
		ID: id, Kind: supply.KindAcknowledgement, SupplierID: supplier, DocumentID: docID, PONumber: po,
		Acknowledgement: &supply.Acknowledgement{ID: docID, PONumber: po, SupplierID: supplier, Date: "2025-03-01",
			Lines: []supply.AckLine{{LineNumber: 1, Status: supply.LineAccepted, PromisedDate: "2025-03-05"}}},
		AcceptedAt: t0,
	}
}

func TestAcceptSupplierDocument(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		d := ackDoc("sd_1", "SUP-2", "ACK-1", "PO-000001")
		acc, err := s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: d, Fingerprint: "fp1"})
		if err != nil || acc.ID != "sd_1" || acc.Replayed {
			t.Fatalf("Accept = %+v, %v", acc, err)
		}
		msgs, err := rdb.XRange(ctx, "outbox:{p0.0}", "-", "+").Result()
		if err != nil || len(msgs) != 1 || msgs[0].Values["type"] != erp.TypePOAck || msgs[0].Values["id"] != "sd_1" {
			t.Fatalf("outbox = %+v, %v; want one po.ack for sd_1", msgs, err)
		}
		got, err := s.SupplierDocument(ctx, "sd_1")
		if err != nil || got.State != supply.DocPending || got.Acknowledgement == nil || got.Acknowledgement.Lines[0].PromisedDate != "2025-03-05" || !got.AcceptedAt.Equal(t0) {
			t.Fatalf("SupplierDocument = %+v, %v", got, err)
		}

		// Same number and content: replayed, nothing written. Other content: mismatch.
		d2 := ackDoc("sd_2", "SUP-2", "ACK-1", "PO-000001")
		acc, err = s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: d2, Fingerprint: "fp1"})
		if err != nil || acc.ID != "sd_1" || !acc.Replayed {
			t.Errorf("repeat = %+v, %v; want replay of sd_1", acc, err)
		}
		if _, err := s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: d2, Fingerprint: "fp2"}); code(err) != erpgate.IdempotencyMismatch {
			t.Errorf("other content = %v, want idempotency_mismatch", err)
		}
		if n, _ := rdb.XLen(ctx, "outbox:{p0.0}").Result(); n != 1 {
			t.Errorf("outbox has %d entries, want 1", n)
		}
		// Another supplier's number space is its own.
		if _, err := s.SupplierDocumentByNumber(ctx, "SUP-1", supply.KindAcknowledgement, "ACK-1"); code(err) != erpgate.NotFound {
			t.Errorf("SUP-1 reading SUP-2's ACK-1 = %v, want not_found", err)
		}
		if _, err := s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: ackDoc("sd_3", "SUP-1", "ACK-1", "PO-000002"), Fingerprint: "fp3"}); err != nil {
			t.Errorf("SUP-1's own ACK-1: %v", err)
		}
		docs, total, err := s.SupplierDocuments(ctx, "SUP-2", supply.KindAcknowledgement, 0, 10)
		if err != nil || total != 1 || len(docs) != 1 || docs[0].ID != "sd_1" {
			t.Errorf("SUP-2's list = %d docs of %d, %v; want sd_1 only", len(docs), total, err)
		}

		// Caller bugs store nothing.
		bad := ackDoc("sd|4", "SUP-2", "ACK-4", "PO-000001")
		if _, err := s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: bad, Fingerprint: "x"}); code(err) != erpgate.Internal {
			t.Errorf("id with '|' = %v, want internal", err)
		}
	})
}

func TestDocumentDeliveryStates(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		for i, id := range []string{"sd_a", "sd_b", "sd_c"} {
			d := ackDoc(id, "SUP-2", "ACK-"+id, "PO-000001")
			d.AcceptedAt = t0.Add(time.Duration(i) * time.Second)
			if _, err := s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: d, Fingerprint: id}); err != nil {
				t.Fatal(err)
			}
		}
		c, _ := s.SupplierDocument(ctx, "sd_c")
		before, err := s.PendingBefore(ctx, c)
		if err != nil || !slices.Equal(before, []string{"sd_a", "sd_b"}) {
			t.Fatalf("PendingBefore(sd_c) = %v, %v; want [sd_a sd_b]", before, err)
		}
		res := &supply.DocResult{PONumber: "PO-000001", POStatus: supply.StatusAcknowledged}
		if err := s.SetDocumentDelivery(ctx, "sd_a", supply.DocumentDelivery{State: supply.DocDelivered, Attempts: 1, ERP: res}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetDocumentDelivery(ctx, "sd_b", supply.DocumentDelivery{State: supply.DocDead, Reason: "gone"}); err != nil {
			t.Fatal(err)
		}
		if before, _ := s.PendingBefore(ctx, c); len(before) != 0 {
			t.Errorf("PendingBefore(sd_c) after a and b ended = %v, want none", before)
		}
		pend, err := s.PendingDocuments(ctx, "SUP-2", "PO-000001")
		if err != nil || len(pend) != 1 || pend[0].ID != "sd_c" {
			t.Errorf("PendingDocuments = %v, %v; want sd_c", pend, err)
		}
		// Delivered stays delivered; dead takes only a final state.
		for _, st := range []string{supply.DocPending, supply.DocDead, supply.DocRejected} {
			_ = s.SetDocumentDelivery(ctx, "sd_a", supply.DocumentDelivery{State: st})
		}
		a, _ := s.SupplierDocument(ctx, "sd_a")
		if a.State != supply.DocDelivered || a.ERP == nil || a.ERP.POStatus != supply.StatusAcknowledged || a.Attempts != 1 {
			t.Errorf("sd_a = %+v, want still delivered with the ERP's answer", a.DocumentDelivery)
		}
		_ = s.SetDocumentDelivery(ctx, "sd_b", supply.DocumentDelivery{State: supply.DocPending})
		if b, _ := s.SupplierDocument(ctx, "sd_b"); b.State != supply.DocDead {
			t.Errorf("dead → pending: %s, want dead", b.State)
		}
		_ = s.SetDocumentDelivery(ctx, "sd_b", supply.DocumentDelivery{State: supply.DocDelivered})
		if b, _ := s.SupplierDocument(ctx, "sd_b"); b.State != supply.DocDelivered {
			t.Errorf("dead → delivered (a replay went through): %s, want delivered", b.State)
		}
		if err := s.SetDocumentDelivery(ctx, "sd_x", supply.DocumentDelivery{State: supply.DocDelivered}); code(err) != erpgate.NotFound {
			t.Errorf("unknown document = %v, want not_found", err)
		}
	})
}

func TestSupplyCacheAndSignatures(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, rdb)
		if _, ok, err := s.CacheGet(ctx, "k"); ok || err != nil {
			t.Fatalf("empty cache = %v, %v", ok, err)
		}
		if err := s.CacheSet(ctx, "k", []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, ok, _ := s.CacheGet(ctx, "k"); !ok || string(v) != "v" {
			t.Errorf("CacheGet = %q, %v", v, ok)
		}
		g, _ := s.CacheGenerations(ctx, "a", "b")
		if err := s.BumpCacheGenerations(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		g2, _ := s.CacheGenerations(ctx, "a", "b")
		if g2[0] != g[0]+1 || g2[1] != g[1] {
			t.Errorf("generations %v → %v, want a bumped only", g, g2)
		}
		for i, want := range []bool{true, false} {
			if first, err := s.FirstUse(ctx, "client|sig", time.Minute); err != nil || first != want {
				t.Errorf("FirstUse #%d = %v, %v; want %v", i+1, first, err, want)
			}
		}
	})
}

// TestAcceptSupplierDocumentCheckedAgainst: a document checked against the
// purchase order's pending documents is accepted only while they are still
// those; after another document joined them it is refused with
// ErrPendingChanged and nothing is written.
func TestAcceptSupplierDocumentCheckedAgainst(t *testing.T) {
	eachBackend(t, func(t *testing.T, rdb redis.UniversalClient) {
		s := newStore(t, rdb)
		ctx := context.Background()
		_, seen, err := s.PendingState(ctx, "SUP-1", "PO-000001")
		if err != nil || seen == nil || len(seen) != 0 {
			t.Fatalf("pending state of a fresh order: %v, %v; want an empty, non-nil list", seen, err)
		}
		// Two documents checked against the same (empty) state.
		if _, err := s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: ackDoc("sd_1", "SUP-1", "ACK-1", "PO-000001"), Fingerprint: "f1", CheckedAgainst: seen}); err != nil {
			t.Fatal(err)
		}
		_, err = s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: ackDoc("sd_2", "SUP-1", "ACK-2", "PO-000001"), Fingerprint: "f2", CheckedAgainst: seen})
		if !errors.Is(err, store.ErrPendingChanged) || code(err) != erpgate.Conflict {
			t.Fatalf("second document checked against the old state: %v, want ErrPendingChanged (Conflict)", err)
		}
		if _, err := s.SupplierDocument(ctx, "sd_2"); code(err) != erpgate.NotFound {
			t.Errorf("refused document stored: %v", err)
		}
		// Checked again against the new state: accepted.
		_, seen, err = s.PendingState(ctx, "SUP-1", "PO-000001")
		if err != nil || len(seen) != 1 || seen[0] != "sd_1" {
			t.Fatalf("pending state = %v, %v; want [sd_1]", seen, err)
		}
		if _, err := s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: ackDoc("sd_2", "SUP-1", "ACK-2", "PO-000001"), Fingerprint: "f2", CheckedAgainst: seen}); err != nil {
			t.Fatalf("after checking again: %v", err)
		}
		// A repeat is answered as a replay whatever the state.
		acc, err := s.AcceptSupplierDocument(ctx, store.DocumentIntake{Doc: ackDoc("sd_9", "SUP-1", "ACK-1", "PO-000001"), Fingerprint: "f1", CheckedAgainst: []string{}})
		if err != nil || !acc.Replayed || acc.ID != "sd_1" {
			t.Errorf("repeat = %+v, %v; want a replay of sd_1", acc, err)
		}
	})
}
