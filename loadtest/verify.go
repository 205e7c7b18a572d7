package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SimOrder is one element of the ERP simulator's GET /sim/orders: one order
// the simulated ERP holds. ExternalRef is the gateway's order id (the stable
// reference every adapter sends); CreateCalls counts the create requests the
// ERP received for it.
type SimOrder struct {
	Version        string `json:"version"`
	ExternalRef    string `json:"external_ref"`
	ERPOrderNumber string `json:"erp_order_number"`
	CreateCalls    int    `json:"create_calls"`
}

// OrdersCursorHeader is the header in which the ERP simulator's
// GET /sim/orders?version=v says where its list ended; passed back as
// ?after=, it yields only the orders created since (erpsim's inspection
// API). Verify uses it when present and reads everything on every poll when
// not.
const OrdersCursorHeader = "X-Sim-Orders-Next"

// MaxSimOrders bounds how many elements one /sim/orders answer may have.
const MaxSimOrders = 20_000_000

// simHolding is what the ERP holds for one external reference in one version.
type simHolding struct {
	elements    int // more than one: the ERP created the order twice
	createCalls int // the largest create_calls among the elements
}

// simSnapshot maps version → external_ref → holding.
type simSnapshot map[string]map[string]simHolding

// Baseline is what the simulator held before the run, so that orders from
// earlier runs or other clients are not mistaken for this run's.
type Baseline struct {
	seen map[string]map[string]bool // version → external_ref
	// cursor is, per version, the simulator's position in its creation order
	// at the baseline (OrdersCursorHeader): Verify then reads only the orders
	// created since, each once. Absent for a simulator without cursors.
	cursor map[string]int
}

// Len returns the number of orders in the baseline.
func (b *Baseline) Len() int {
	n := 0
	for _, m := range b.seen {
		n += len(m)
	}
	return n
}

// VerifyConfig configures Verify and Snapshot.
type VerifyConfig struct {
	// SimURL is the simulator's base URL (its /sim/orders is read). Loopback
	// only unless AllowRemote.
	SimURL      string
	AllowRemote bool
	// Versions are the ERP versions every acknowledged order must reach
	// (default ["v2"]).
	Versions []string
	// Timeout bounds the wait for deliveries to settle (default 60s).
	Timeout time.Duration
	// Poll is the least time between two reads of /sim/orders (default 1s;
	// it grows to twice the last read's duration so that a large answer does
	// not load the simulator, which shares the machine with the gateway).
	Poll time.Duration
	// Client reads the simulator and the gateway (default NewClient(4)).
	Client *http.Client
	// Target, ShopKey and RunID let Verify attribute ERP orders nobody
	// acknowledged: GET Target/v1/orders/{external_ref} tells whether the
	// order's external_id carries this run's prefix. Without Target such
	// orders are counted as unattributed.
	Target  string
	ShopKey string
	RunID   string
	// MaxLookups bounds those gateway reads (default 1000).
	MaxLookups int
	// MaxMissingLookups bounds the gateway reads that tell, after the wait,
	// an order the ERP still lacks as lost or as still queued (default
	// 200,000); orders beyond it are Unchecked.
	MaxMissingLookups int
	// Progress receives a line per poll; nil for none.
	Progress io.Writer
}

func (c VerifyConfig) withDefaults() (VerifyConfig, error) {
	c.SimURL = strings.TrimRight(c.SimURL, "/")
	if c.AllowRemote {
		if _, err := checkURL(c.SimURL); err != nil {
			return c, err
		}
	} else if err := CheckLoopback(c.SimURL); err != nil {
		return c, err
	}
	if len(c.Versions) == 0 {
		c.Versions = []string{"v2"}
	}
	for _, v := range c.Versions {
		if v != "v1" && v != "v2" {
			return c, fmt.Errorf("verify version %q: want v1 or v2", v)
		}
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.Client == nil {
		c.Client = NewClient(4)
	}
	if c.MaxLookups == 0 {
		c.MaxLookups = 1000
	}
	if c.MaxMissingLookups == 0 {
		c.MaxMissingLookups = 200_000
	}
	c.Target = strings.TrimRight(c.Target, "/")
	if c.Target != "" && !c.AllowRemote {
		if err := CheckLoopback(c.Target); err != nil {
			return c, err
		}
	}
	return c, nil
}

// VersionCounts are the verification figures of one ERP version. Each
// acknowledged order counts once: Lost (the ERP does not hold it), Duplicated
// (the ERP holds it as more than one order), Retried (held once, but the
// create request arrived more than once — harmless when the ERP deduplicates,
// reported because it shows redelivery).
type VersionCounts struct {
	Present    int `json:"present"`
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
	Retried    int `json:"retried"`
	// Queued counts orders the ERP does not hold yet that the gateway still
	// has queued for it (not lost: delivery is behind); Undeliverable those
	// the gateway gave up on (rejected or dead-lettered); Unchecked those
	// the gateway could not be asked about.
	Queued        int `json:"queued"`
	Undeliverable int `json:"undeliverable"`
	Unchecked     int `json:"unchecked"`
}

// Verification is the end-to-end check of a run.
type Verification struct {
	Versions  []string                 `json:"versions"`
	Acked     int                      `json:"acked"`
	ByVersion map[string]VersionCounts `json:"by_version"`
	// Totals over the versions. Lost counts orders the ERP lacks although
	// the gateway has no such order or says it delivered it (or, without a
	// gateway to ask, every order the ERP lacks); orders still queued in
	// the gateway are Queued: not settled, not lost.
	Lost          int `json:"lost"`
	Duplicated    int `json:"duplicated"`
	Retried       int `json:"retried"`
	Queued        int `json:"queued"`
	Undeliverable int `json:"undeliverable"`
	Unchecked     int `json:"unchecked"`
	// SharedIDs counts acknowledgements that reused an order id already given
	// to a different order of this run: one of the two orders is lost. They
	// are included in Lost.
	SharedIDs int `json:"shared_ids"`
	// Unexpected counts orders the ERP holds (new since the baseline) that
	// belong to this run — the gateway says their external_id has the run's
	// prefix — but were never acknowledged. Up to AmbiguousOrders of them are
	// explained by requests whose answer was lost (a timeout after the
	// gateway stored the order); more means the gateway created an order it
	// refused or never answered.
	Unexpected int   `json:"unexpected"`
	Ambiguous  int64 `json:"ambiguous"`
	// Foreign counts new ERP orders from other clients (not this run);
	// Unattributed counts new ERP orders Verify could not attribute (no
	// gateway to ask, a lookup failed, or more than MaxLookups).
	Foreign      int `json:"foreign"`
	Unattributed int `json:"unattributed"`
	// Examples of each problem, "version/external_ref", at most 10 each.
	LostExamples       []string `json:"lost_examples,omitempty"`
	QueuedExamples     []string `json:"queued_examples,omitempty"`
	DuplicatedExamples []string `json:"duplicated_examples,omitempty"`
	UnexpectedExamples []string `json:"unexpected_examples,omitempty"`
	// Settled is true when every acknowledged order reached every version
	// before the timeout. When not, Queued (and Unchecked) say how much of
	// the backlog was still on its way.
	Settled bool          `json:"settled"`
	Waited  time.Duration `json:"waited_ns"`
	Polls   int           `json:"polls"`
	// OrdersRead counts the simulator's order elements read over all polls
	// (with cursors, about one per order plus a final full read).
	OrdersRead int `json:"orders_read"`
	// Failed is the verdict: Lost, Duplicated, Undeliverable, or Unexpected
	// beyond Ambiguous. A run that is not Failed but not Settled either
	// lost nothing that can be seen yet: its backlog was still draining.
	Failed bool   `json:"failed"`
	Reason string `json:"reason,omitempty"`
}

const maxExamples = 10

// ErrVerification is returned (wrapped) by callers when a verification fails.
var ErrVerification = errors.New("verification failed")

// Snapshot reads what the simulator holds now, to be passed to Verify as the
// baseline. Take it before the run.
func Snapshot(ctx context.Context, cfg VerifyConfig) (*Baseline, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Baseline{seen: map[string]map[string]bool{}, cursor: map[string]int{}}
	for _, ver := range cfg.Versions {
		page, err := fetchSimOrders(ctx, cfg, ver, -1)
		if err != nil {
			return nil, err
		}
		b.seen[ver] = make(map[string]bool, len(page.held))
		for ref := range page.held {
			b.seen[ver][ref] = true
		}
		if page.next >= 0 {
			b.cursor[ver] = page.next
		}
	}
	return b, nil
}

// simReader keeps what the simulator holds per version up to date. Against
// a simulator with cursors (erpsim) it holds only the orders created
// since the baseline and reads just the new ones on each poll; otherwise
// every poll reads everything.
type simReader struct {
	cfg    VerifyConfig
	base   *Baseline
	snap   simSnapshot
	cursor map[string]int // next position per version; absent: read everything
	read   int            // elements read so far
}

func newSimReader(cfg VerifyConfig, base *Baseline) *simReader {
	sr := &simReader{cfg: cfg, base: base, snap: simSnapshot{}, cursor: map[string]int{}}
	for _, ver := range cfg.Versions {
		sr.snap[ver] = map[string]simHolding{}
		if c, ok := base.cursor[ver]; ok {
			sr.cursor[ver] = c
		}
	}
	return sr
}

// poll brings the snapshot up to date. With refresh, versions read by
// cursor are read again from the baseline on, so that create_calls of orders
// read earlier are current.
func (sr *simReader) poll(ctx context.Context, refresh bool) error {
	next := simSnapshot{}
	cursors := map[string]int{}
	for _, ver := range sr.cfg.Versions {
		c, incremental := sr.cursor[ver]
		after := -1
		if incremental {
			after = c
			if refresh {
				after = sr.base.cursor[ver]
			}
		}
		page, err := fetchSimOrders(ctx, sr.cfg, ver, after)
		if err != nil {
			return err
		}
		sr.read += page.elements
		if !incremental || refresh {
			next[ver] = page.held
		} else {
			held := sr.snap[ver]
			for ref, h := range page.held {
				old := held[ref]
				old.elements += h.elements
				old.createCalls = max(old.createCalls, h.createCalls)
				held[ref] = old
			}
			next[ver] = held
		}
		if incremental {
			if page.next < 0 {
				return fmt.Errorf("GET /sim/orders: the simulator stopped giving a cursor")
			}
			cursors[ver] = page.next
		}
	}
	// Only a poll that read every version changes the state.
	sr.snap = next
	for ver, c := range cursors {
		sr.cursor[ver] = c
	}
	return nil
}

// incremental reports whether some version is read by cursor.
func (sr *simReader) incremental() bool { return len(sr.cursor) > 0 }

// Verify waits (up to cfg.Timeout) until the simulator holds every
// acknowledged order in every expected version, then checks that each is
// held exactly once and looks for ERP orders of this run nobody
// acknowledged. ambiguous is Result.AmbiguousOrders. The error is non-nil
// only when the simulator could not be read at all; a failed check is
// reported in Verification.Failed.
func Verify(ctx context.Context, cfg VerifyConfig, base *Baseline, acks []Ack, ambiguous int64) (*Verification, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if base == nil {
		base = &Baseline{}
	}
	began := time.Now()
	deadline := began.Add(cfg.Timeout)
	maxPolls := int(cfg.Timeout/cfg.Poll) + 3
	var (
		last      *Verification
		lastErr   error
		zeroed    bool // lost reached 0 once; one more read catches late duplicates
		refreshed bool // the last good read was a full one (create_calls current)
		timer     = time.NewTimer(0)
		sr        = newSimReader(cfg, base)
	)
	defer timer.Stop()
	<-timer.C
	for polls := 1; polls <= maxPolls; polls++ {
		t0 := time.Now()
		err := sr.poll(ctx, zeroed)
		fetchTook := time.Since(t0)
		if err != nil {
			lastErr = err
			if errors.Is(err, errSimReset) {
				break
			}
		} else {
			refreshed = zeroed || !sr.incremental()
			last = evaluate(cfg.Versions, acks, sr.snap)
			last.Polls = polls
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "verify: poll %d: lost %d duplicated %d (waited %s, %d orders read)\n", polls, last.Lost, last.Duplicated, time.Since(began).Round(time.Millisecond), sr.read)
			}
			if last.Lost == 0 {
				if zeroed {
					break
				}
				zeroed = true
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		wait := max(cfg.Poll, 2*fetchTook)
		if zeroed {
			wait = cfg.Poll
		}
		timer.Reset(min(wait, time.Until(deadline)+time.Millisecond))
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
	}
	if errors.Is(lastErr, errSimReset) {
		return nil, fmt.Errorf("verify: reading the simulator: %w", lastErr)
	}
	if last == nil {
		if lastErr == nil {
			lastErr = ctx.Err()
		}
		return nil, fmt.Errorf("verify: reading the simulator: %w", lastErr)
	}
	if !refreshed && ctx.Err() == nil {
		// Timed out reading by cursor: one full read of the run's orders
		// makes Retried (create_calls) current. Lost and Duplicated are
		// already right: orders and second copies are new elements.
		if sr.poll(ctx, true) == nil {
			polls := last.Polls + 1
			last = evaluate(cfg.Versions, acks, sr.snap)
			last.Polls = polls
		}
	}
	if last.Lost > 0 && cfg.Target != "" && ctx.Err() == nil {
		// Not all there: ask the gateway about each missing order, then
		// read the simulator once more (an order delivered while we asked
		// must not count as lost), and tell lost from still queued.
		states := lookupMissing(ctx, cfg, missing(cfg.Versions, acks, sr.snap))
		if sr.poll(ctx, false) == nil {
			polls := last.Polls + 1
			last = evaluate(cfg.Versions, acks, sr.snap)
			last.Polls = polls
		}
		last.classify(states, missing(cfg.Versions, acks, sr.snap))
	}
	last.OrdersRead = sr.read
	last.Waited = time.Since(began)
	last.Settled = last.Lost == 0 && last.Queued == 0 && last.Unchecked == 0 && last.Undeliverable == 0
	last.Ambiguous = ambiguous
	attribute(ctx, cfg, last, base, acks, sr.snap)
	last.judge()
	return last, nil
}

// evaluate checks acks against one snapshot of the simulator.
func evaluate(versions []string, acks []Ack, snap simSnapshot) *Verification {
	v := &Verification{Versions: versions, ByVersion: map[string]VersionCounts{}}
	ids := make(map[string]string, len(acks)) // order id → external id
	unique := make([]string, 0, len(acks))
	for _, a := range acks {
		if ext, dup := ids[a.ID]; dup {
			if ext != a.ExternalID {
				v.SharedIDs++
				v.LostExamples = example(v.LostExamples, "id "+a.ID+" also given to "+a.ExternalID)
			}
			continue
		}
		ids[a.ID] = a.ExternalID
		unique = append(unique, a.ID)
	}
	v.Acked = len(unique)
	for _, ver := range versions {
		held := snap[ver]
		var c VersionCounts
		for _, id := range unique {
			h, ok := held[id]
			switch {
			case !ok:
				c.Lost++
				v.LostExamples = example(v.LostExamples, ver+"/"+id)
				continue
			case h.elements > 1:
				c.Duplicated++
				v.DuplicatedExamples = example(v.DuplicatedExamples, ver+"/"+id)
			case h.createCalls > 1:
				c.Retried++
			}
			c.Present++
		}
		v.ByVersion[ver] = c
		v.Lost += c.Lost
		v.Duplicated += c.Duplicated
		v.Retried += c.Retried
	}
	v.Lost += v.SharedIDs
	return v
}

func example(list []string, s string) []string {
	if len(list) < maxExamples {
		return append(list, s)
	}
	return list
}

// attribute sorts the ERP orders that are new since the baseline but were
// never acknowledged into this run's (Unexpected), others' (Foreign) and
// unknown (Unattributed). The simulator reports only the gateway's order id,
// not the shop's external_id, so the gateway is asked.
func attribute(ctx context.Context, cfg VerifyConfig, v *Verification, base *Baseline, acks []Ack, snap simSnapshot) {
	acked := make(map[string]bool, len(acks))
	for _, a := range acks {
		acked[a.ID] = true
	}
	var refs []string
	seen := map[string]bool{}
	for _, ver := range cfg.Versions {
		for ref := range snap[ver] {
			if acked[ref] || base.seen[ver][ref] || seen[ref] {
				continue
			}
			seen[ref] = true
			refs = append(refs, ref)
		}
	}
	slices.Sort(refs)
	prefix := cfg.RunID + "-"
	for i, ref := range refs {
		if cfg.Target == "" || cfg.RunID == "" || i >= cfg.MaxLookups || ctx.Err() != nil {
			v.Unattributed++
			continue
		}
		ext, status, err := lookupExternalID(ctx, cfg, ref)
		switch {
		case err != nil || (status != http.StatusOK && status != http.StatusNotFound):
			v.Unattributed++
		case status == http.StatusOK && strings.HasPrefix(ext, prefix):
			v.Unexpected++
			v.UnexpectedExamples = example(v.UnexpectedExamples, ref+" ("+ext+")")
		default: // another shop's order, or another run's
			v.Foreign++
		}
	}
}

// lookupExternalID asks the gateway for an order's external_id.
func lookupExternalID(ctx context.Context, cfg VerifyConfig, id string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Target+"/v1/orders/"+url.PathEscape(id), nil)
	if err != nil {
		return "", 0, err
	}
	if cfg.ShopKey != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.ShopKey)
	}
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var body struct {
		ExternalID string `json:"external_id"`
		Order      struct {
			ExternalID string `json:"external_id"`
		} `json:"order"`
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return "", resp.StatusCode, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", resp.StatusCode, err
	}
	if body.ExternalID == "" {
		body.ExternalID = body.Order.ExternalID
	}
	return body.ExternalID, resp.StatusCode, nil
}

// missing returns, per version, the acknowledged orders snap lacks.
func missing(versions []string, acks []Ack, snap simSnapshot) map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, a := range acks {
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		for _, ver := range versions {
			if _, ok := snap[ver][a.ID]; !ok {
				out[ver] = append(out[ver], a.ID)
			}
		}
	}
	return out
}

// The gateway's view of a missing order in one version.
const (
	gwUnknown   = iota // could not ask (error, over the bound)
	gwNoOrder          // 404: the gateway has no such order
	gwDelivered        // the gateway says the ERP created it
	gwQueued           // still pending (or no result yet): not delivered yet
	gwGaveUp           // rejected or dead-lettered
)

// lookupMissing asks the gateway (GET /v1/orders/{id}, a few at a time)
// what became of each missing order, and returns "version/id" → gw… state.
func lookupMissing(ctx context.Context, cfg VerifyConfig, miss map[string][]string) map[string]int {
	ids := map[string]bool{}
	for _, l := range miss {
		for _, id := range l {
			ids[id] = true
		}
	}
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	slices.Sort(list)
	if len(list) > cfg.MaxMissingLookups {
		list = list[:cfg.MaxMissingLookups]
	}
	type answer struct {
		id     string
		status int
		erp    map[string]string
		err    error
	}
	work := make(chan string)
	answers := make(chan answer, len(list))
	const workers = 8
	for range workers {
		go func() {
			for id := range work {
				st, erpStates, err := lookupOrder(ctx, cfg, id)
				answers <- answer{id, st, erpStates, err}
			}
		}()
	}
	go func() {
		defer close(work)
		for _, id := range list {
			select {
			case work <- id:
			case <-ctx.Done():
				return
			}
		}
	}()
	out := map[string]int{}
	asked := map[string]answer{}
	for range list {
		select {
		case a := <-answers:
			asked[a.id] = a
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	for ver, l := range miss {
		for _, id := range l {
			a, ok := asked[id]
			state := gwUnknown
			switch {
			case !ok || a.err != nil:
			case a.status == http.StatusNotFound:
				state = gwNoOrder
			case a.status != http.StatusOK:
			default:
				switch a.erp[ver] {
				case "created":
					state = gwDelivered
				case "rejected", "dead":
					state = gwGaveUp
				default: // "pending", or no result yet
					state = gwQueued
				}
			}
			out[ver+"/"+id] = state
		}
	}
	return out
}

// classify sorts the orders still missing (per version) by what the gateway
// said of them: lost, still queued, given up on, or not asked.
func (v *Verification) classify(states map[string]int, miss map[string][]string) {
	var examples []string
	for _, e := range v.LostExamples {
		if strings.HasPrefix(e, "id ") { // a shared id (evaluate)
			examples = append(examples, e)
		}
	}
	v.LostExamples = examples
	var queued []string
	for _, ver := range v.Versions {
		c := v.ByVersion[ver]
		c.Lost = 0
		v.ByVersion[ver] = c
	}
	v.Lost = v.SharedIDs
	for ver, ids := range miss {
		c, ok := v.ByVersion[ver]
		if !ok {
			continue
		}
		for _, id := range ids {
			key := ver + "/" + id
			v.classifyOne(&c, key, states[key], &queued)
		}
		v.ByVersion[ver] = c
	}
	// The examples are sorted so that a report is stable.
	slices.Sort(v.LostExamples)
	slices.Sort(queued)
	for _, q := range queued {
		v.QueuedExamples = example(v.QueuedExamples, q)
	}
}

// classifyOne counts the missing order key (version/id) by its gateway state.
func (v *Verification) classifyOne(c *VersionCounts, key string, st int, queued *[]string) {
	switch st {
	case gwNoOrder, gwDelivered:
		c.Lost++
		v.Lost++
		why := " (the gateway has no such order)"
		if st == gwDelivered {
			why = " (the gateway says the ERP created it)"
		}
		v.LostExamples = example(v.LostExamples, key+why)
	case gwQueued:
		c.Queued++
		v.Queued++
		*queued = append(*queued, key)
	case gwGaveUp:
		c.Undeliverable++
		v.Undeliverable++
		v.LostExamples = example(v.LostExamples, key+" (rejected or dead-lettered)")
	default:
		c.Unchecked++
		v.Unchecked++
	}
}

// lookupOrder asks the gateway for an order's per-target delivery states.
func lookupOrder(ctx context.Context, cfg VerifyConfig, id string) (int, map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Target+"/v1/orders/"+url.PathEscape(id), nil)
	if err != nil {
		return 0, nil, err
	}
	if cfg.ShopKey != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.ShopKey)
	}
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, nil, nil
	}
	var body struct {
		ERP map[string]struct {
			State string `json:"state"`
		} `json:"erp"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return resp.StatusCode, nil, err
	}
	out := make(map[string]string, len(body.ERP))
	for t, r := range body.ERP {
		out[t] = r.State
	}
	return resp.StatusCode, out, nil
}

// judge sets the verdict.
func (v *Verification) judge() {
	var why []string
	if v.Lost > 0 {
		why = append(why, fmt.Sprintf("%d lost", v.Lost))
	}
	if v.Undeliverable > 0 {
		why = append(why, fmt.Sprintf("%d undeliverable (rejected or dead-lettered)", v.Undeliverable))
	}
	if v.Duplicated > 0 {
		why = append(why, fmt.Sprintf("%d duplicated", v.Duplicated))
	}
	if int64(v.Unexpected) > v.Ambiguous {
		why = append(why, fmt.Sprintf("%d unexpected (only %d requests had an unknown outcome)", v.Unexpected, v.Ambiguous))
	}
	v.Failed = len(why) > 0
	v.Reason = strings.Join(why, ", ")
	if !v.Failed && (v.Queued > 0 || v.Unchecked > 0) {
		v.Reason = fmt.Sprintf("not settled: %d deliveries still queued in the gateway", v.Queued)
		if v.Unchecked > 0 {
			v.Reason += fmt.Sprintf(", %d missing that the gateway could not be asked about", v.Unchecked)
		}
	}
}

// Verdict is the one-line verdict: "PASS", "FAIL: …" or "NOT SETTLED: …"
// (nothing lost, but deliveries were still queued when the wait ended).
func (v *Verification) Verdict() string {
	switch {
	case v.Failed:
		return "FAIL: " + v.Reason
	case !v.Settled:
		if v.Reason == "" {
			return "NOT SETTLED"
		}
		return "NOT SETTLED: " + strings.TrimPrefix(v.Reason, "not settled: ")
	}
	return "PASS"
}

// ErrNotSettled is returned (wrapped) by callers when a verification found
// nothing lost but the backlog had not drained within the wait.
var ErrNotSettled = errors.New("verification not settled")

// errSimReset: the simulator's orders were reset during verification.
var errSimReset = errors.New("the simulator's orders were reset (or it restarted) since the baseline")

// simPage is one answer of GET /sim/orders for a version.
type simPage struct {
	held     map[string]simHolding
	elements int
	next     int // the cursor header; -1 when absent
}

// fetchSimOrders streams GET /sim/orders?version=ver&fields=core (with
// after ≥ 0: only the orders from that position on), keeping only the
// aggregate per external_ref. Elements of other versions are skipped, in
// case the simulator ignores the filter; a simulator that ignores fields
// sends whole elements, which decode the same.
func fetchSimOrders(ctx context.Context, cfg VerifyConfig, ver string, after int) (simPage, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	u := cfg.SimURL + "/sim/orders?fields=core&version=" + url.QueryEscape(ver)
	if after >= 0 {
		u += "&after=" + strconv.Itoa(after)
	}
	page := simPage{next: -1}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return page, err
	}
	resp, err := cfg.Client.Do(req)
	if err != nil {
		return page, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusConflict && after >= 0 {
		return page, errSimReset
	}
	if resp.StatusCode != http.StatusOK {
		return page, fmt.Errorf("GET /sim/orders: status %d", resp.StatusCode)
	}
	if h := resp.Header.Get(OrdersCursorHeader); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 || (after >= 0 && n < after) {
			return page, fmt.Errorf("GET /sim/orders: bad %s %q", OrdersCursorHeader, h)
		}
		page.next = n
	} else if after >= 0 {
		// A simulator without cursors ignored after= and sent everything:
		// merging that into what was read before would double-count.
		return page, fmt.Errorf("GET /sim/orders: no %s header in an answer to after=", OrdersCursorHeader)
	}
	dec := json.NewDecoder(resp.Body)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return page, fmt.Errorf("GET /sim/orders: want a JSON array")
	}
	page.held = map[string]simHolding{}
	for n := 0; dec.More(); n++ {
		if n >= MaxSimOrders {
			return page, fmt.Errorf("GET /sim/orders: more than %d orders", MaxSimOrders)
		}
		var o SimOrder
		if err := dec.Decode(&o); err != nil {
			return page, fmt.Errorf("GET /sim/orders: element %d: %w", n, err)
		}
		page.elements++
		if o.Version != ver || o.ExternalRef == "" {
			continue
		}
		h := page.held[o.ExternalRef]
		h.elements++
		h.createCalls = max(h.createCalls, o.CreateCalls)
		page.held[o.ExternalRef] = h
	}
	if _, err := dec.Token(); err != nil {
		return page, fmt.Errorf("GET /sim/orders: truncated answer: %w", err)
	}
	return page, nil
}
