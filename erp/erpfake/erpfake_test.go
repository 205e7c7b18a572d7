package erpfake_test

import (
	"context"
	"errors"
	"testing"

	"erpgate/erp"
	"erpgate/erp/erpfake"
	"erpgate/erp/erptest"
)

func TestConformance(t *testing.T) {
	erptest.Run(t, func(t *testing.T) erptest.Harness {
		f := erpfake.New(erpfake.Config{})
		return erptest.Harness{Adapter: f, ERP: f}
	})
}

func TestInjectedFaultsAreConsumedInOrder(t *testing.T) {
	f := erpfake.New(erpfake.Config{})
	o := erptest.Order()
	f.Inject(
		erpfake.Fault{Op: erpfake.OpStatus, Err: erpfake.Permanent("not_found", "x")},
		erpfake.Fault{Op: erpfake.OpCreate, Err: erpfake.Transient()},
		erpfake.Fault{Op: erpfake.OpCreate, Err: erpfake.Transient()},
	)
	for i := range 2 {
		_, err := f.CreateOrder(t.Context(), o)
		var e *erp.Error
		if !errors.As(err, &e) || e.Kind != erp.KindTransient {
			t.Fatalf("create %d = %v, want the injected transient failure", i+1, err)
		}
	}
	if n := f.Holds(o.ID); n != 0 {
		t.Errorf("holds %d after two failed creates, want 0", n)
	}
	c, err := f.CreateOrder(t.Context(), o)
	if err != nil || c.Duplicate {
		t.Fatalf("third create = %+v, %v; want a fresh create", c, err)
	}
	// The status fault was waiting for a status call.
	if _, err := f.OrderStatus(t.Context(), o.ID); !erp.IsPermanent(err) {
		t.Errorf("status = %v, want the injected permanent failure", err)
	}
	if _, err := f.OrderStatus(t.Context(), o.ID); err != nil {
		t.Errorf("status after the queue ran dry: %v", err)
	}
	if got, want := f.Calls(erpfake.OpCreate), 3; got != want {
		t.Errorf("Calls(create) = %d, want %d", got, want)
	}
}

func TestLostReplyThenRedeliveryIsDuplicate(t *testing.T) {
	f := erpfake.New(erpfake.Config{})
	o := erptest.Order()
	f.Inject(erpfake.Fault{Op: erpfake.OpCreate, Err: erpfake.Transient(), AfterCreate: true})
	if _, err := f.CreateOrder(t.Context(), o); err == nil {
		t.Fatal("create with a lost reply succeeded")
	}
	if n := f.Holds(o.ID); n != 1 {
		t.Fatalf("holds %d, want 1: the ERP did create it", n)
	}
	c, err := f.CreateOrder(t.Context(), o)
	if err != nil || !c.Duplicate {
		t.Errorf("redelivery = %+v, %v; want Duplicate", c, err)
	}
	recs := f.Orders()
	if len(recs) != 1 || recs[0].CreateCalls != 2 {
		t.Errorf("orders = %+v, want one with 2 create calls", recs)
	}
}

func TestHookCanBlockUntilTheCallerGivesUp(t *testing.T) {
	f := erpfake.New(erpfake.Config{})
	f.SetHook(func(ctx context.Context, op erpfake.Op, _ string) error {
		if op != erpfake.OpCreate {
			return nil
		}
		<-ctx.Done()
		return &erp.Error{Kind: erp.KindTransient, Code: "timeout", Err: ctx.Err()}
	})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := f.CreateOrder(ctx, erptest.Order())
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || erp.IsPermanent(err) {
		t.Errorf("blocked create = %v, want a transient error wrapping context.Canceled", err)
	}
	f.SetHook(nil)
	if _, err := f.CreateOrder(t.Context(), erptest.Order()); err != nil {
		t.Errorf("create after removing the hook: %v", err)
	}
}

func TestStoredOrderIsACopy(t *testing.T) {
	f := erpfake.New(erpfake.Config{Target: erp.V1, NumberPrefix: "SO-1V-"})
	o := erptest.Order()
	c, err := f.CreateOrder(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if c.ERPOrderNumber != "SO-1V-000001" || f.Target() != erp.V1 {
		t.Errorf("number %q target %q, want SO-1V-000001 v1", c.ERPOrderNumber, f.Target())
	}
	want := o.Clone()
	o.Lines[0].Quantity = 99
	o.Customer.Name = "changed"
	got, err := f.FetchOrder(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := erptest.Diff(got, want); diff != "" {
		t.Errorf("stored order changed with the caller's copy: %s", diff)
	}
	got.Notes = "mutated"
	if again, _ := f.FetchOrder(t.Context(), o.ID); again.Notes == "mutated" {
		t.Error("FetchOrder returned the stored order itself, not a copy")
	}
}

func TestSetStatus(t *testing.T) {
	f := erpfake.New(erpfake.Config{})
	o := erptest.Order()
	c, err := f.CreateOrder(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetStatus(o.ID, erp.Status{Status: "shipped", Carrier: "UPS", TrackingNumber: "1Z"}); err != nil {
		t.Fatal(err)
	}
	st, err := f.OrderStatus(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "shipped" || st.Carrier != "UPS" || st.ERPOrderNumber != c.ERPOrderNumber {
		t.Errorf("status = %+v, want shipped by UPS with number %s", st, c.ERPOrderNumber)
	}
	if err := f.SetStatus("ord_nope", erp.Status{Status: "shipped"}); !erp.IsPermanent(err) {
		t.Errorf("SetStatus(unknown) = %v, want not_found", err)
	}
}

func TestCustomCatalog(t *testing.T) {
	f := erpfake.New(erpfake.Config{SKUs: []string{"A-1"}})
	o := erptest.Order()
	_, err := f.CreateOrder(t.Context(), o)
	var e *erp.Error
	if !errors.As(err, &e) || e.Code != "unknown_sku" || e.Reason != "SKU-1001, SKU-1002 and SKU-1003 are not sold by us" {
		t.Errorf("create = %v, want unknown_sku naming the three skus", err)
	}
	for i := range o.Lines {
		o.Lines[i].SKU = "A-1"
	}
	if _, err := f.CreateOrder(t.Context(), o); err != nil {
		t.Errorf("create with the custom catalog: %v", err)
	}
}
