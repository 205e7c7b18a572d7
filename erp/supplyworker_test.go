package erp_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"erpgate/erp"
	"erpgate/internal/redistest"
	"erpgate/store"
	"erpgate/supply"
)

// fakeChain is a supply chain that records the documents it is sent and
// fails on demand.
type fakeChain struct {
	mu     sync.Mutex
	calls  []string         // "<kind> <document id>", failed calls included
	fail   map[string]error // document id → error for its next call
	refuse map[string]bool  // document id → refused for good
}

func (f *fakeChain) doc(kind, id string) (supply.DocResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, kind+" "+id)
	if err := f.fail[id]; err != nil {
		delete(f.fail, id)
		return supply.DocResult{}, err
	}
	if f.refuse[id] {
		return supply.DocResult{}, &erp.Error{Kind: erp.KindPermanent, Code: erp.CodeInvalidDocument, Reason: "the ERP refused the document: lines[0].quantity", Err: errors.New("refused")}
	}
	return supply.DocResult{PONumber: "PO-1"}, nil
}

func (f *fakeChain) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeChain) PurchaseOrders(context.Context, string, []supply.Status, int, int) (erp.POPage, error) {
	return erp.POPage{}, nil
}
func (f *fakeChain) PurchaseOrder(context.Context, string, string) (*supply.PurchaseOrder, error) {
	return nil, errors.New("unused")
}
func (f *fakeChain) Acknowledge(_ context.Context, a *supply.Acknowledgement) (supply.DocResult, error) {
	return f.doc("ack", a.ID)
}
func (f *fakeChain) Ship(_ context.Context, n *supply.ShippingNotice) (supply.DocResult, error) {
	return f.doc("asn", n.ID)
}
func (f *fakeChain) AdviseStock(_ context.Context, a *supply.StockAdvice) (supply.DocResult, error) {
	return f.doc("stock", a.ID)
}
func (f *fakeChain) Invoice(_ context.Context, inv *supply.Invoice) (supply.DocResult, error) {
	return f.doc("invoice", inv.ID)
}
func (f *fakeChain) CatalogItems(context.Context, int, int) (erp.CatalogPage, error) {
	return erp.CatalogPage{}, nil
}
func (f *fakeChain) CatalogItem(context.Context, string) (erp.CatalogItem, error) {
	return erp.CatalogItem{}, errors.New("unused")
}

var _ erp.SupplyChain = (*fakeChain)(nil)

func acceptDoc(t *testing.T, e *env, d *supply.Document) {
	t.Helper()
	d.SupplierID = "SUP-2"
	d.AcceptedAt = e.clock.Now()
	if _, err := e.st.AcceptSupplierDocument(context.Background(), store.DocumentIntake{Doc: d, Fingerprint: d.ID}); err != nil {
		t.Fatal(err)
	}
}

func docState(t *testing.T, e *env, id string) supply.DocumentDelivery {
	t.Helper()
	d, err := e.st.SupplierDocument(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d.DocumentDelivery
}

// TestSupplyDeliveryKeepsPurchaseOrderOrder: documents of one purchase
// order reach the ERP in accept order even when the first fails and waits
// out a backoff; other documents do not wait; v1 acknowledges them all
// without a call; a refused document is recorded as rejected.
func TestSupplyDeliveryKeepsPurchaseOrderOrder(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newEnvParts(t, rdb, 1) // documents named by the test: one partition holds every supplier
	chain := &fakeChain{fail: map[string]error{"ACK-1": errDown}, refuse: map[string]bool{"INV-1": true}}
	var mu sync.Mutex
	var results []string
	sd, err := erp.NewSupplyDelivery(erp.SupplyDeliveryConfig{Documents: e.st, Chains: map[string]erp.SupplyChain{erp.V2: chain},
		Now: e.clock.Now, OnResult: func(_ context.Context, target string, d *supply.Document) {
			mu.Lock()
			results = append(results, target+" "+d.DocumentID+" "+d.State)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ack := &supply.Acknowledgement{ID: "ACK-1", PONumber: "PO-1"}
	acceptDoc(t, e, &supply.Document{ID: "sd_1", Kind: supply.KindAcknowledgement, DocumentID: "ACK-1", PONumber: "PO-1", Acknowledgement: ack})
	acceptDoc(t, e, &supply.Document{ID: "sd_2", Kind: supply.KindShippingNotice, DocumentID: "ASN-1", PONumber: "PO-1",
		ShippingNotice: &supply.ShippingNotice{ID: "ASN-1", PONumber: "PO-1"}})
	acceptDoc(t, e, &supply.Document{ID: "sd_3", Kind: supply.KindStockAdvice, DocumentID: "STK-1",
		StockAdvice: &supply.StockAdvice{ID: "STK-1"}})
	acceptDoc(t, e, &supply.Document{ID: "sd_4", Kind: supply.KindInvoice, DocumentID: "INV-1", PONumber: "PO-2",
		Invoice: &supply.Invoice{ID: "INV-1", PONumber: "PO-2"}})

	cfg := e.config()
	cfg.Handlers = sd.Handlers()
	_, stop := e.run(cfg)
	defer stop()
	waitUntil(t, "the stock advice and the invoice answered", func() bool {
		return docState(t, e, "sd_3").State == supply.DocDelivered && docState(t, e, "sd_4").State == supply.DocRejected
	})
	// The acknowledgement failed and waits a backoff (fake time); the
	// shipping notice waits for it without reaching the ERP.
	if got := chain.called(); slices.Contains(got, "asn ASN-1") {
		t.Fatalf("calls = %v: the shipping notice went before its acknowledgement", got)
	}
	if st := docState(t, e, "sd_1"); st.State != supply.DocPending || st.Reason == "" {
		t.Errorf("failed acknowledgement = %+v, want pending with a reason", st)
	}
	for range 5 {
		e.clock.Advance(2 * time.Minute)
		time.Sleep(20 * time.Millisecond)
		if docState(t, e, "sd_2").State == supply.DocDelivered {
			break
		}
	}
	waitUntil(t, "the acknowledgement and then the shipping notice delivered", func() bool {
		return docState(t, e, "sd_2").State == supply.DocDelivered
	})
	got := chain.called()
	ia, is := slices.Index(got, "ack ACK-1"), slices.Index(got, "asn ASN-1")
	if n := len(slices.DeleteFunc(slices.Clone(got), func(c string) bool { return c != "ack ACK-1" })); n != 2 || is < ia {
		t.Errorf("calls = %v, want the acknowledgement twice (a failure, then success) and the shipping notice after it", got)
	}
	if slices.Contains(got[:slices.Index(got, "ack ACK-1")+1], "asn ASN-1") {
		t.Errorf("calls = %v: shipping notice before the acknowledgement went through", got)
	}
	if st := docState(t, e, "sd_2"); st.Attempts != 1 {
		t.Errorf("shipping notice attempts = %d, want 1 (waiting for the acknowledgement is not charged)", st.Attempts)
	}
	if st := docState(t, e, "sd_4"); st.Reason != "the ERP refused the document: lines[0].quantity" {
		t.Errorf("refused invoice = %+v, want the adapter's reason", st)
	}
	// v1 has no supply chain: its group acknowledged all four unseen.
	waitUntil(t, "v1's group to be empty", func() bool {
		for p := range e.st.Outbox().Partitions() {
			pe, err := rdb.XPending(context.Background(), store.OutboxKey(e.st.Space().Tag(p)), "erp-v1").Result()
			if err != nil || pe.Count != 0 {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	for _, r := range results {
		if r[:2] != "v2" {
			t.Errorf("result hook for %q: only v2 delivers supplier documents", r)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDocumentStates: a supplier document's delivery states share their
// values with the order result states (the dead-letter tools show both).
func TestDocumentStates(t *testing.T) {
	for got, want := range map[string]string{supply.DocPending: erp.StatePending, supply.DocRejected: erp.StateRejected, supply.DocDead: erp.StateDead} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// TestSupplyDeliveryBeforeFinal: the hook runs while the document still
// counts as pending, once per final result, and not for a retried failure.
func TestSupplyDeliveryBeforeFinal(t *testing.T) {
	rdb, _ := redistest.Mini(t)
	e := newEnvParts(t, rdb, 1) // documents named by the test: one partition holds every supplier
	var mu sync.Mutex
	var seen []string
	sd, err := erp.NewSupplyDelivery(erp.SupplyDeliveryConfig{Documents: e.st, Chains: map[string]erp.SupplyChain{erp.V2: &fakeChain{}},
		Now: e.clock.Now, BeforeFinal: func(ctx context.Context, d *supply.Document) {
			pending, err := e.st.PendingDocuments(ctx, d.SupplierID, d.PONumber)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || len(pending) != 1 || pending[0].ID != d.ID {
				seen = append(seen, "not pending")
				return
			}
			seen = append(seen, d.DocumentID)
		}})
	if err != nil {
		t.Fatal(err)
	}
	acceptDoc(t, e, &supply.Document{ID: "sd_1", Kind: supply.KindAcknowledgement, DocumentID: "ACK-1", PONumber: "PO-1",
		Acknowledgement: &supply.Acknowledgement{ID: "ACK-1", PONumber: "PO-1"}})
	cfg := e.config()
	cfg.Handlers = sd.Handlers()
	_, stop := e.run(cfg)
	defer stop()
	waitUntil(t, "the acknowledgement delivered", func() bool { return docState(t, e, "sd_1").State == supply.DocDelivered })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, []string{"ACK-1"}) {
		t.Errorf("BeforeFinal saw %v, want [ACK-1] while still pending", seen)
	}
}
