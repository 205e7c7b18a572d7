package erpsim

// The simulated ERP's supply chain (issue 6): which supplier supplies which
// sku at what cost, reorder points and lead times; purchase orders issued for
// replenishment and for customer orders short of stock; the suppliers'
// documents (acknowledgement, shipping notice, stock advice, invoice) applied
// with the business rules of package supply; and the goods receipt that
// books a shipment into stock when its expected delivery date arrives on the
// simulator's clock.
//
// The SOAP operations are in supplyws.go; this file holds the book.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"erpgate"
	"erpgate/order"
	"erpgate/supply"
)

// SupplyItem is how the ERP buys one sku.
type SupplyItem struct {
	SKU                string        `json:"sku"`
	Supplier           string        `json:"supplier"`
	SupplierPartNumber string        `json:"supplier_part_number"`
	UnitCost           order.Decimal `json:"unit_cost"` // purchase price per unit, EUR
	Unit               string        `json:"unit"`      // UN/ECE Rec. 20, e.g. "EA"
	// ReorderPoint: when the stock available to promise plus the open
	// inbound quantity falls below it, a replenishment order for
	// ReorderQuantity is issued. Zero means the sku is bought only for
	// customer orders (made to order).
	ReorderPoint    int64 `json:"reorder_point"`
	ReorderQuantity int64 `json:"reorder_quantity"`
	// LeadTimeDays is the supplier's usual time from order to delivery; a
	// purchase order requests delivery that many days after its issue date.
	LeadTimeDays int `json:"lead_time_days"`
}

// DemoSupply returns the purchasing data of the demo catalog. SKU-1011 (stand
// mixer, stock 0) is made to order: only a customer order makes the ERP buy
// it, so the demo's first purchase order is the one the customer's order
// causes. SKU-1004 and SKU-1017 are replenished when orders take their small
// stock below the reorder point. The README lists the same table.
func DemoSupply() []SupplyItem {
	i := func(sku, supplier, part, cost string, rp, rq int64, lead int) SupplyItem {
		return SupplyItem{SKU: sku, Supplier: supplier, SupplierPartNumber: part, UnitCost: order.MustDecimal(cost),
			Unit: "EA", ReorderPoint: rp, ReorderQuantity: rq, LeadTimeDays: lead}
	}
	return []SupplyItem{
		i("SKU-1001", "SUP-1", "S1-CUP-6", "11.20", 100, 300, 5),
		i("SKU-1002", "SUP-1", "S1-KTL-17", "19.50", 20, 60, 7),
		i("SKU-1003", "SUP-1", "S1-GRD-B", "47.00", 10, 30, 10),
		i("SKU-1004", "SUP-2", "S2-CAS-24", "71.00", 2, 10, 14),
		i("SKU-1005", "SUP-2", "S2-KNF-20", "28.40", 15, 40, 7),
		i("SKU-1006", "SUP-2", "S2-BRD-OAK", "15.10", 25, 80, 7),
		i("SKU-1007", "SUP-1", "S1-TWL-3", "5.90", 80, 200, 5),
		i("SKU-1008", "SUP-1", "S1-FP-1L", "13.60", 15, 50, 7),
		i("SKU-1009", "SUP-2", "S2-SCL-D", "8.75", 30, 100, 7),
		i("SKU-1010", "SUP-2", "S2-SPT-SET", "4.80", 50, 150, 5),
		i("SKU-1011", "SUP-2", "S2-MIX-5L", "205.00", 0, 5, 10),
		i("SKU-1012", "SUP-1", "S1-DRP-C", "9.40", 15, 40, 7),
		i("SKU-1013", "SUP-1", "S1-JAR-4", "12.90", 30, 80, 7),
		i("SKU-1014", "SUP-2", "S2-PAN-28", "21.70", 20, 60, 7),
		i("SKU-1015", "SUP-1", "S1-UTH-B", "3.95", 40, 120, 5),
		i("SKU-1016", "SUP-1", "S1-FRT-M", "8.10", 25, 70, 7),
		i("SKU-1017", "SUP-2", "S2-ESP-DB", "845.00", 1, 3, 21),
		i("SKU-1018", "SUP-2", "S2-MCS-SET", "4.60", 50, 150, 5),
		i("SKU-1019", "SUP-1", "S1-INF-SS", "2.30", 80, 250, 5),
	}
}

// Limits of the supply book, so a long-running simulator stays bounded.
const (
	// MaxPurchaseOrders bounds the purchase orders the book keeps; beyond
	// it no more are issued (and a warning is logged).
	MaxPurchaseOrders = 100_000
	// maxStockAdvices bounds the remembered stock advice ids.
	maxStockAdvices = 100_000
)

// supplyCurrency is the currency of every purchase order of the simulator.
const supplyCurrency = "EUR"

// warehouse is where every purchase order ships to.
var warehouse = order.Address{
	Name: "erpgate demo warehouse", Line1: "Lagerstrasse 1", City: "Hamburg", PostalCode: "20095", Country: "DE",
}

// ShortLine is a quantity of a sku a customer order is short of.
type ShortLine struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// supplyBook is the ERP's purchasing state. Purchase orders are kept as
// supply.PurchaseOrder values and only ever replaced by what the Apply
// methods return, so every rule of package supply holds in the simulator.
type supplyBook struct {
	mu    sync.Mutex
	items map[string]SupplyItem // by sku
	pos   map[string]*supply.PurchaseOrder
	list  []string // numbers in issue order
	seq   int
	// pegged holds, per purchase order and line number, the quantity
	// promised to waiting customer orders; the rest of the open quantity is
	// free to peg further backorders onto.
	pegged map[string]map[int]int64
	// Indexes by sku, so that pegging a backorder and summing what is
	// inbound cost what is still open, not every purchase order ever
	// issued (under load most orders are backorders: a scan of the whole
	// book per backorder made the simulator quadratic).
	//   waiting: orderRef+"\x00"+sku → the purchase order that order waits on
	//   peggable: sku → the newest (at most pegWindow, in issue order)
	//     numbers that may still take backorders; dropped when they no
	//     longer can (nothing free, full, closed) or fall out of the window
	//   open: sku → numbers (issue order) that may still bring sku in;
	//     dropped once nothing of sku is open on them
	waiting  map[string]string
	peggable map[string][]string
	open     map[string][]string
	// advice is the latest stock advice per sku; advised remembers applied
	// stock advice ids per supplier.
	advice  map[string]supply.StockItem
	advised map[string]bool
	// receiptSeq numbers goods receipts.
	receiptSeq int
}

func newSupplyBook(items []SupplyItem) *supplyBook {
	b := &supplyBook{
		items:    make(map[string]SupplyItem, len(items)),
		pos:      make(map[string]*supply.PurchaseOrder),
		pegged:   make(map[string]map[int]int64),
		waiting:  make(map[string]string),
		peggable: make(map[string][]string),
		open:     make(map[string][]string),
		advice:   make(map[string]supply.StockItem),
		advised:  make(map[string]bool),
	}
	for _, it := range items {
		b.items[it.SKU] = it
	}
	return b
}

// supplyState is the Sim's field for the supply chain: the book is built on
// first use, so New needs no change for it.
type supplyState struct {
	once sync.Once
	book *supplyBook
}

// supplyBookOf returns s's supply book, built from DemoSupply restricted to
// the skus s sells.
func (s *Sim) supplyBookOf() *supplyBook {
	s.supply.once.Do(func() {
		var items []SupplyItem
		for _, it := range DemoSupply() {
			if p, ok := s.catalog[it.SKU]; ok && p.Supplier != "" {
				it.Supplier = p.Supplier
				items = append(items, it)
			}
		}
		s.supply.book = newSupplyBook(items)
	})
	return s.supply.book
}

// civil returns the civil date of t in UTC.
func civil(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// nextNumber returns the next purchase order number; b.mu must be held.
func (b *supplyBook) nextNumber() string {
	b.seq++
	n := strconv.Itoa(b.seq)
	if len(n) < 6 {
		n = "000000"[len(n):] + n
	}
	return "PO-" + n
}

// issue creates a purchase order for one supplier; b.mu must be held. lines
// are (sku, quantity) pairs of skus that supplier supplies.
func (b *supplyBook) issue(now time.Time, supplier string, origin supply.Origin, lines []ShortLine, refs []string) (*supply.PurchaseOrder, error) {
	if len(b.pos) >= MaxPurchaseOrders {
		return nil, errors.New("erpsim: purchase order book full")
	}
	lead := 0
	po := &supply.PurchaseOrder{
		Number: b.nextNumber(), SupplierID: supplier, IssueDate: civil(now), Origin: origin,
		CustomerOrders: slices.Clone(refs), Currency: supplyCurrency, ShipTo: warehouse,
		Status: supply.StatusIssued,
	}
	for i, l := range lines {
		it := b.items[l.SKU]
		lead = max(lead, it.LeadTimeDays)
		po.Lines = append(po.Lines, supply.POLine{
			LineNumber: i + 1, SKU: l.SKU, SupplierPartNumber: it.SupplierPartNumber,
			Quantity: l.Quantity, Unit: it.Unit, UnitPrice: it.UnitCost,
		})
	}
	po.RequestedDeliveryDate = civil(now.AddDate(0, 0, lead))
	if err := po.Validate(); err != nil {
		b.seq--
		return nil, fmt.Errorf("erpsim: issuing a purchase order: %w", err)
	}
	b.pos[po.Number] = po
	b.list = append(b.list, po.Number)
	b.pegged[po.Number] = make(map[int]int64)
	for i, l := range po.Lines {
		if lineOfSKU(po, l.SKU) < i {
			continue // a second line of the sku: indexed once
		}
		pg := append(b.peggable[l.SKU], po.Number)
		if len(pg) > pegWindow {
			pg = append(pg[:0], pg[len(pg)-pegWindow:]...)
		}
		b.peggable[l.SKU] = pg
		b.open[l.SKU] = append(b.open[l.SKU], po.Number)
		for _, ref := range refs {
			b.waiting[waitKey(ref, l.SKU)] = po.Number
		}
	}
	return po, nil
}

// openQuantity is what line l of po will still bring in: its confirmed
// quantity once acknowledged (the ordered one before), minus what has been
// received. Terminal and rejected orders and lines bring nothing.
func openQuantity(po *supply.PurchaseOrder, l *supply.POLine) int64 {
	if po.Status.Terminal() || po.Status == supply.StatusRejected || l.AckStatus == supply.LineRejected {
		return 0
	}
	want := l.Quantity
	if l.AckStatus != "" {
		want = l.ConfirmedQuantity
	}
	return max(want-l.ReceivedQuantity, 0)
}

// inbound returns the open quantity of sku over all purchase orders; b.mu
// must be held.
func (b *supplyBook) inbound(sku string) int64 {
	var n int64
	nums := b.open[sku]
	kept := nums[:0]
	for _, num := range nums {
		po := b.pos[num]
		var q int64
		for i := range po.Lines {
			if po.Lines[i].SKU == sku {
				q += openQuantity(po, &po.Lines[i])
			}
		}
		if q > 0 {
			kept = append(kept, num)
		}
		n += q
	}
	clear(nums[len(kept):])
	b.open[sku] = kept
	return n
}

// IssueBackorderPO is the lifecycle's hook for a customer order short of
// stock: orderRef is the order's external reference (the gateway's order
// id) and short the missing quantities. For each sku it pegs the shortage
// onto an open purchase order with enough unpromised quantity, or issues a
// new one (origin customer_order, at least the sku's reorder quantity), one
// per supplier for the skus it issues. Either way orderRef is linked to the
// purchase order (CustomerOrders), so the supplier's acknowledgement and
// shipping notice reach the customer's tracking. It returns the numbers of
// the purchase orders the order now waits on. Skus the ERP does not buy are
// skipped; a repeated call for the same order and sku pegs again only if it
// asks for more than before.
func (s *Sim) IssueBackorderPO(orderRef string, short []ShortLine) ([]string, error) {
	if orderRef == "" {
		return nil, errors.New("erpsim: IssueBackorderPO needs an order reference")
	}
	b := s.supplyBookOf()
	now := s.clock()
	b.mu.Lock()
	defer b.mu.Unlock()
	var waits []string
	issue := map[string][]ShortLine{} // supplier → lines to issue
	var suppliers []string
	for _, l := range short {
		it, ok := b.items[l.SKU]
		if !ok || l.Quantity <= 0 {
			continue
		}
		if num, ok := b.peg(orderRef, l); ok {
			waits = appendUnique(waits, num)
			continue
		}
		if _, seen := issue[it.Supplier]; !seen {
			suppliers = append(suppliers, it.Supplier)
		}
		issue[it.Supplier] = append(issue[it.Supplier], ShortLine{SKU: l.SKU, Quantity: max(l.Quantity, it.ReorderQuantity)})
	}
	var errs []error
	for _, sup := range suppliers {
		po, err := b.issue(now, sup, supply.OriginCustomerOrder, issue[sup], []string{orderRef})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, l := range short {
			if i := lineOfSKU(po, l.SKU); i >= 0 {
				b.pegged[po.Number][po.Lines[i].LineNumber] += l.Quantity
			}
		}
		s.log.Info("erpsim: purchase order issued for a customer order", "po", po.Number, "supplier", sup, "order", orderRef)
		waits = appendUnique(waits, po.Number)
	}
	return waits, errors.Join(errs...)
}

// peg links orderRef to an open purchase order that has l.Quantity of l.SKU
// not yet promised to other customer orders; b.mu must be held.
func (b *supplyBook) peg(orderRef string, l ShortLine) (string, bool) {
	key := waitKey(orderRef, l.SKU)
	if num, ok := b.waiting[key]; ok {
		return num, true // already waiting on it (a repeated call)
	}
	nums := b.peggable[l.SKU]
	kept := nums[:0]
	found := ""
	for _, num := range nums {
		if found != "" {
			kept = append(kept, num)
			continue
		}
		po := b.pos[num]
		open := false // can this order still take a backorder of the sku?
		for i := range po.Lines {
			pl := &po.Lines[i]
			if pl.SKU != l.SKU {
				continue
			}
			free := openQuantity(po, pl) - b.pegged[num][pl.LineNumber]
			if free <= 0 || len(po.CustomerOrders) >= supply.MaxLines {
				continue
			}
			open = true
			if free < l.Quantity {
				continue
			}
			next := po.Clone()
			next.CustomerOrders = append(next.CustomerOrders, orderRef)
			b.pos[num] = next
			b.pegged[num][pl.LineNumber] += l.Quantity
			b.waiting[key] = num
			found = num
			break
		}
		if open {
			kept = append(kept, num)
		}
	}
	clear(nums[len(kept):])
	b.peggable[l.SKU] = kept
	return found, found != ""
}

// pegWindow is how many of a sku's newest purchase orders with free
// quantity a backorder may be pegged onto (oldest of them first). Older
// ones with a little left (less than the backorders that came) still bring
// their goods in; they just take no more backorders, which keeps pegging
// cheap however many purchase orders the book holds.
const pegWindow = 16

// waitKey is the key of b.waiting.
func waitKey(orderRef, sku string) string { return orderRef + "\x00" + sku }

func lineOfSKU(po *supply.PurchaseOrder, sku string) int {
	for i := range po.Lines {
		if po.Lines[i].SKU == sku {
			return i
		}
	}
	return -1
}

func appendUnique(xs []string, x string) []string {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

// Replenish issues a replenishment purchase order (one per supplier) for
// every sku whose available stock plus open inbound quantity is below its
// reorder point, and returns their numbers.
func (s *Sim) Replenish() []string {
	b := s.supplyBookOf()
	avail := s.supplyStock() // outside b.mu: the stock has its own lock
	now := s.clock()
	b.mu.Lock()
	defer b.mu.Unlock()
	bySupplier := map[string][]ShortLine{}
	var suppliers []string
	for _, p := range s.products { // catalog order: deterministic numbering
		it, ok := b.items[p.SKU]
		if !ok || it.ReorderPoint <= 0 || avail[p.SKU]+b.inbound(p.SKU) >= it.ReorderPoint {
			continue
		}
		if _, seen := bySupplier[it.Supplier]; !seen {
			suppliers = append(suppliers, it.Supplier)
		}
		bySupplier[it.Supplier] = append(bySupplier[it.Supplier], ShortLine{SKU: p.SKU, Quantity: it.ReorderQuantity})
	}
	var out []string
	for _, sup := range suppliers {
		po, err := b.issue(now, sup, supply.OriginReplenishment, bySupplier[sup], nil)
		if err != nil {
			s.log.Warn("erpsim: replenishment not issued", "supplier", sup, "err", err)
			continue
		}
		s.log.Info("erpsim: replenishment purchase order issued", "po", po.Number, "supplier", sup)
		out = append(out, po.Number)
	}
	return out
}

// Receipt is a goods receipt the simulator booked.
type Receipt struct {
	PONumber string              `json:"po_number"`
	Receipt  supply.GoodsReceipt `json:"receipt"`
	SKUs     []ShortLine         `json:"skus"` // quantities booked into stock
}

// ReceiveDue books the goods receipt of every shipment whose expected
// delivery date has arrived by the simulator's clock and that is not yet
// fully received, puts the quantities into stock (Restock, which allocates
// waiting backorders) and returns the receipts.
func (s *Sim) ReceiveDue() []Receipt {
	b := s.supplyBookOf()
	now := s.clock()
	today := civil(now)
	var out []Receipt
	b.mu.Lock()
	for _, num := range b.list {
		po := b.pos[num]
		if po.Status.Terminal() || !po.Status.Allows(supply.OpReceive) {
			continue
		}
		for _, sh := range po.Shipments {
			if sh.ExpectedDelivery > today {
				continue
			}
			var lines []supply.ShipLine
			var skus []ShortLine
			for _, sl := range sh.Lines {
				if q := sl.Quantity - sl.Received; q > 0 {
					lines = append(lines, supply.ShipLine{LineNumber: sl.LineNumber, Quantity: q})
					if i := po.Line(sl.LineNumber); i >= 0 {
						skus = append(skus, ShortLine{SKU: po.Lines[i].SKU, Quantity: q})
					}
				}
			}
			if len(lines) == 0 {
				continue
			}
			b.receiptSeq++
			gr := supply.GoodsReceipt{
				ID: fmt.Sprintf("GR-%06d", b.receiptSeq), PONumber: num, ShipmentID: sh.ID,
				Date: max(today, sh.ShipDate), Lines: lines,
			}
			next, err := po.ApplyReceipt(&gr, now)
			if err != nil {
				s.log.Warn("erpsim: goods receipt refused", "po", num, "shipment", sh.ID, "err", err)
				continue
			}
			b.pos[num], po = next, next
			out = append(out, Receipt{PONumber: num, Receipt: gr, SKUs: skus})
		}
	}
	b.mu.Unlock()
	// Outside the book's lock: Restock allocates customer orders, which
	// may call back into IssueBackorderPO.
	for _, r := range out {
		s.log.Info("erpsim: goods received", "po", r.PONumber, "receipt", r.Receipt.ID, "shipment", r.Receipt.ShipmentID)
		for _, l := range r.SKUs {
			s.supplyRestock(l.SKU, l.Quantity)
		}
	}
	return out
}

// SupplyTick runs the supply chain's periodic work at the simulator's
// current time: goods receipts of arrived shipments, then replenishment.
func (s *Sim) SupplyTick() {
	s.ReceiveDue()
	s.Replenish()
}

// RunSupply calls SupplyTick every interval until ctx is done. The
// simulator also ticks before answering each supply-chain call, so a
// simulator nobody runs this for still books receipts when asked.
func (s *Sim) RunSupply(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.SupplyTick()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PurchaseOrders returns copies of the purchase orders of supplier (all
// suppliers when empty), newest first.
func (s *Sim) PurchaseOrders(supplier string) []*supply.PurchaseOrder {
	b := s.supplyBookOf()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*supply.PurchaseOrder
	for i := len(b.list) - 1; i >= 0; i-- {
		po := b.pos[b.list[i]]
		if supplier == "" || po.SupplierID == supplier {
			out = append(out, po.Clone())
		}
	}
	return out
}

// PurchaseOrder returns a copy of purchase order number.
func (s *Sim) PurchaseOrder(number string) (*supply.PurchaseOrder, bool) {
	b := s.supplyBookOf()
	b.mu.Lock()
	defer b.mu.Unlock()
	po, ok := b.pos[number]
	if !ok {
		return nil, false
	}
	return po.Clone(), true
}

// SupplyItems returns the purchasing data, in catalog order.
func (s *Sim) SupplyItems() []SupplyItem {
	b := s.supplyBookOf()
	var out []SupplyItem
	for _, p := range s.products {
		if it, ok := b.items[p.SKU]; ok {
			out = append(out, it)
		}
	}
	return out
}

// errAlreadyApplied marks a supplier document applied before (same id).
var errAlreadyApplied = errors.New("erpsim: document already applied")

// applyToPO applies a supplier document to purchase order number on behalf
// of supplier with apply (one of the supply.PurchaseOrder Apply methods).
// A purchase order of another supplier is NotFound, as in package supply.
// A repeat of an applied document returns errAlreadyApplied with the order.
func (s *Sim) applyToPO(number, supplier string, apply func(po *supply.PurchaseOrder, now time.Time) (*supply.PurchaseOrder, error)) (*supply.PurchaseOrder, error) {
	b := s.supplyBookOf()
	now := s.clock()
	b.mu.Lock()
	defer b.mu.Unlock()
	po, ok := b.pos[number]
	if !ok || po.SupplierID != supplier {
		return nil, erpgate.Errorf(erpgate.NotFound, "no purchase order %s for supplier %s", number, supplier)
	}
	next, err := apply(po, now)
	if errors.Is(err, supply.ErrAlreadyApplied) {
		return po.Clone(), errAlreadyApplied
	}
	if err != nil {
		return nil, err
	}
	b.pos[number] = next
	return next.Clone(), nil
}

// applyStockAdvice records a supplier's stock advice. Every item must be a
// sku that supplier supplies (Unprocessable otherwise). A repeat of an
// applied advice id returns errAlreadyApplied.
func (s *Sim) applyStockAdvice(a *supply.StockAdvice) error {
	if err := a.ValidateAt(s.clock()); err != nil {
		return err
	}
	b := s.supplyBookOf()
	b.mu.Lock()
	defer b.mu.Unlock()
	key := a.SupplierID + "\x00" + a.ID
	if b.advised[key] {
		return errAlreadyApplied
	}
	if err := checkStockAdviceSKUs(a, func(sku string) string { return b.items[sku].Supplier }); err != nil {
		return err
	}
	if len(b.advised) >= maxStockAdvices {
		clear(b.advised) // forget old ids rather than grow without bound
	}
	b.advised[key] = true
	for _, it := range a.Items {
		b.advice[it.SKU] = it
	}
	return nil
}

// checkStockAdviceSKUs returns an Unprocessable error naming every item of a
// whose sku is not supplied by a.SupplierID according to supplierOf (""
// for a sku nobody supplies). The gateway runs the same check against the
// catalog, so both refuse the same advice with the same problems.
func checkStockAdviceSKUs(a *supply.StockAdvice, supplierOf func(sku string) string) error {
	var probs []erpgate.Problem
	for i, it := range a.Items {
		if supplierOf(it.SKU) != a.SupplierID {
			probs = append(probs, erpgate.Problem{Field: "items[" + strconv.Itoa(i) + "].sku",
				Message: "is not a sku this supplier supplies to us"})
		}
	}
	if len(probs) > 0 {
		return &erpgate.Error{Code: erpgate.Unprocessable, Message: "the stock advice names skus this supplier does not supply", Problems: probs}
	}
	return nil
}

// catalogEntry is one product with its supply view.
type catalogEntry struct {
	Product
	Available int64
	Lead      int
	Inbound   []inboundLine
}

type inboundLine struct {
	PONumber         string
	LineNumber       int
	Quantity         int64
	Status           supply.Status
	Requested        string
	Promised         string
	ExpectedDelivery string
}

// catalogView returns the products (all when sku is empty) with available
// stock, lead time and open inbound supply.
func (s *Sim) catalogView(sku string) []catalogEntry {
	b := s.supplyBookOf()
	var prods []Product
	if sku != "" {
		p, ok := s.catalog[sku]
		if !ok {
			return nil
		}
		prods = []Product{p}
	} else {
		prods = s.products
	}
	stock := s.supplyStock() // outside b.mu: the stock has its own lock
	out := make([]catalogEntry, len(prods))
	for i, p := range prods {
		out[i] = catalogEntry{Product: p, Available: max(stock[p.SKU], 0)}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	idx := make(map[string]int, len(out))
	for i := range out {
		idx[out[i].SKU] = i
		it := b.items[out[i].SKU]
		out[i].Lead = it.LeadTimeDays
		if adv, ok := b.advice[out[i].SKU]; ok {
			out[i].Lead = adv.LeadTimeDays
		}
	}
	for _, num := range b.list {
		po := b.pos[num]
		for li := range po.Lines {
			l := &po.Lines[li]
			i, ok := idx[l.SKU]
			if !ok {
				continue
			}
			q := openQuantity(po, l)
			if q <= 0 {
				continue
			}
			in := inboundLine{PONumber: num, LineNumber: l.LineNumber, Quantity: q, Status: po.Status,
				Requested: po.RequestedDeliveryDate, Promised: l.PromisedDate}
			for _, sh := range po.Shipments {
				for _, sl := range sh.Lines {
					if sl.LineNumber == l.LineNumber && sl.Quantity > sl.Received && sh.ExpectedDelivery > in.ExpectedDelivery {
						in.ExpectedDelivery = sh.ExpectedDelivery
					}
				}
			}
			out[i].Inbound = append(out[i].Inbound, in)
		}
	}
	return out
}

// supplyStock returns the stock available to promise per sku: the v2
// ledger's free quantity on hand (lifecycle.go). Supply is v2's business;
// Restock books a receipt into every version's ledger alike.
func (s *Sim) supplyStock() map[string]int64 {
	out := make(map[string]int64, len(s.products))
	for _, l := range s.Stock() {
		if l.Version == supplyVersion {
			out[l.SKU] = l.OnHand
		}
	}
	return out
}

// supplyVersion is the interface version that has the supply chain.
const supplyVersion = "v2"

// supplyRestock books qty of sku received from a supplier into stock, which
// allocates waiting backorders (lifecycle.go).
func (s *Sim) supplyRestock(sku string, qty int64) {
	if err := s.Restock(sku, qty); err != nil {
		s.log.Warn("erpsim: goods receipt not booked into stock", "sku", sku, "quantity", qty, "err", err)
	}
}

// onBackorder is the lifecycle's backorder hook (registered in New): a v2
// order short of stock gets purchase orders for what it misses.
func (s *Sim) onBackorder(b Backorder) {
	if b.Version != supplyVersion {
		return // v1 is the old release: no supply chain
	}
	short := make([]ShortLine, 0, len(b.Short))
	for _, sh := range b.Short {
		short = append(short, ShortLine{SKU: sh.SKU, Quantity: sh.Quantity})
	}
	if _, err := s.IssueBackorderPO(b.ExternalRef, short); err != nil {
		s.log.Warn("erpsim: purchase order for a backorder not issued", "order", b.ExternalRef, "err", err)
	}
}
