package erpv1

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"erpgate/order"
	"erpgate/soap/erpv1ws"
)

// The ERPGATE1 encoding: how ToV1 carries what v1 cannot hold, and FromV1
// gets it back. See the package documentation for the specification.

const (
	// dataPrefix starts every line (in Remarks) and every OrderText that
	// carries ERPGATE1 data; it is followed by "<k>/<n> " and the k-th of n
	// pieces of the data.
	dataPrefix = "ERPGATE1 "
	// separator is the line between the human-readable remarks and the data,
	// telling the old ERP's users not to edit what follows.
	separator = "-- erpgate: data to restore the web order, do not edit below --"
	// humanMax bounds the human-readable part of Remarks (characters), so
	// that at least maxRemarksData characters of data fit beside it.
	humanMax = 2400
	// pieceHeaderMax is the longest "<k>/<n> " header: n ≤ 1000.
	pieceHeaderMax = len(dataPrefix) + len("1000/1000 ")
	// maxPieces bounds the pieces: one in Remarks, one per OrderText.
	maxPieces = 1 + erpv1ws.MaxOrderTexts
	// maxDataBytes bounds the data FromV1 assembles from untrusted input:
	// maxPieces pieces of at most 4000 characters of at most 4 bytes.
	maxDataBytes = maxPieces * erpv1ws.MaxOrderTextLen * utf8.UTFMax
)

// delta is the ERPGATE1 data: the values of the canonical order that v1's
// business fields do not hold exactly. A pointer field is absent when v1's
// field already holds the value; a plain field is absent when the value is
// empty (v1 has no such field, so its base value is empty). Keys are short
// because the data counts against v1's 4000-character texts.
type delta struct {
	// Hash is the integrity tag of the whole order (integrityTag).
	Hash         string         `json:"h"`
	ShopID       string         `json:"shop,omitempty"`
	ExternalID   *string        `json:"ext,omitempty"` // base: CustomerOrderNo
	CreatedAt    string         `json:"at,omitempty"`  // RFC 3339, UTC, nanoseconds
	CustomerID   string         `json:"cid,omitempty"`
	CustomerName *string        `json:"cn,omitempty"` // base: CustomerName
	Email        string         `json:"em,omitempty"`
	Phone        string         `json:"ph,omitempty"`
	Ship         *addressDelta  `json:"sa,omitempty"`
	Bill         *order.Address `json:"ba,omitempty"`  // v1 has no invoice address
	Currency     *string        `json:"cur,omitempty"` // base: Currency
	Lines        []lineDelta    `json:"l,omitempty"`   // ascending I
	ShipMethod   *string        `json:"sm,omitempty"`  // base: ShipVia
	ShipPrice    *order.Decimal `json:"sp,omitempty"`  // base: ShippingCharge
	DeliveryDate string         `json:"rd,omitempty"`
	Notes        string         `json:"no,omitempty"`
}

// addressDelta restores the structured shipping address from v1's
// DeliveryName, DeliveryAddress (base of Line1) and DeliveryCountry.
type addressDelta struct {
	Name       *string `json:"n,omitempty"`
	Line1      *string `json:"l1,omitempty"`
	Line2      string  `json:"l2,omitempty"`
	City       string  `json:"c,omitempty"`
	PostalCode string  `json:"pc,omitempty"`
	Region     string  `json:"r,omitempty"`
	Country    *string `json:"co,omitempty"`
}

// lineDelta restores line I (0-based) from v1's ItemText (base of the
// description) and NetPrice (base of the unit price, discount zero).
type lineDelta struct {
	I           int            `json:"i"`
	Description *string        `json:"d,omitempty"`
	UnitPrice   *order.Decimal `json:"u,omitempty"`
	Discount    order.Decimal  `json:"r,omitzero"`
}

// diff returns the delta that turns base (what v1's fields hold) into o.
func diff(o, base *order.Order) (*delta, error) {
	tag, err := integrityTag(o)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntranslatable, err)
	}
	d := &delta{
		Hash:         tag,
		ShopID:       o.ShopID,
		ExternalID:   differs(o.ExternalID, base.ExternalID),
		CustomerID:   o.Customer.ID,
		CustomerName: differs(o.Customer.Name, base.Customer.Name),
		Email:        o.Customer.Email,
		Phone:        o.Customer.Phone,
		Bill:         o.BillingAddress,
		Currency:     differs(o.Currency, base.Currency),
		ShipMethod:   differs(o.Shipping.Method, base.Shipping.Method),
		DeliveryDate: o.RequestedDeliveryDate,
		Notes:        o.Notes,
	}
	if !o.CreatedAt.IsZero() {
		d.CreatedAt = o.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	if o.Shipping.Price != base.Shipping.Price {
		p := o.Shipping.Price
		d.ShipPrice = &p
	}
	s, b := &o.ShippingAddress, &base.ShippingAddress
	sd := addressDelta{
		Name:       differs(s.Name, b.Name),
		Line1:      differs(s.Line1, b.Line1),
		Line2:      s.Line2,
		City:       s.City,
		PostalCode: s.PostalCode,
		Region:     s.Region,
		Country:    differs(s.Country, b.Country),
	}
	if sd != (addressDelta{}) {
		d.Ship = &sd
	}
	for i := range o.Lines {
		l, bl := &o.Lines[i], &base.Lines[i]
		ld := lineDelta{I: i, Description: differs(l.Description, bl.Description), Discount: l.Discount}
		if l.UnitPrice != bl.UnitPrice {
			p := l.UnitPrice
			ld.UnitPrice = &p
		}
		if ld.Description != nil || ld.UnitPrice != nil || ld.Discount != 0 {
			d.Lines = append(d.Lines, ld)
		}
	}
	return d, nil
}

// differs returns &s when s is not what v1's field holds, else nil.
func differs(s, base string) *string {
	if s == base {
		return nil
	}
	return &s
}

// apply turns base (from v1's fields) into the original order. It checks
// what untrusted data could get wrong: line indexes and the timestamp.
func apply(o *order.Order, d *delta) error {
	o.ShopID = d.ShopID
	set(&o.ExternalID, d.ExternalID)
	if d.CreatedAt != "" {
		t, err := time.Parse(time.RFC3339Nano, d.CreatedAt)
		if err != nil || !strings.HasSuffix(d.CreatedAt, "Z") {
			return fmt.Errorf("%w: bad created_at", ErrCorrupt)
		}
		o.CreatedAt = t.UTC()
	}
	o.Customer.ID = d.CustomerID
	set(&o.Customer.Name, d.CustomerName)
	o.Customer.Email = d.Email
	o.Customer.Phone = d.Phone
	if s := d.Ship; s != nil {
		a := &o.ShippingAddress
		set(&a.Name, s.Name)
		set(&a.Line1, s.Line1)
		a.Line2, a.City, a.PostalCode, a.Region = s.Line2, s.City, s.PostalCode, s.Region
		set(&a.Country, s.Country)
	}
	o.BillingAddress = d.Bill
	set(&o.Currency, d.Currency)
	prev := -1
	for _, ld := range d.Lines {
		if ld.I <= prev || ld.I >= len(o.Lines) {
			return fmt.Errorf("%w: line index %d out of order or range", ErrCorrupt, ld.I)
		}
		prev = ld.I
		l := &o.Lines[ld.I]
		set(&l.Description, ld.Description)
		if ld.UnitPrice != nil {
			l.UnitPrice = *ld.UnitPrice
		}
		l.Discount = ld.Discount
	}
	set(&o.Shipping.Method, d.ShipMethod)
	if d.ShipPrice != nil {
		o.Shipping.Price = *d.ShipPrice
	}
	o.RequestedDeliveryDate = d.DeliveryDate
	o.Notes = d.Notes
	return nil
}

func set(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

// encodeDelta renders d as compact JSON that XML can carry unchanged: no
// HTML escaping (to save space), and U+FFFE/U+FFFF — the only characters
// encoding/json emits raw that XML 1.0 forbids — escaped as \ufffe/\uffff.
// The result holds no line break (JSON escapes control characters, and
// encoding/json escapes U+2028/U+2029).
func encodeDelta(d *delta) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUntranslatable, err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	if bytes.Contains(b, []byte("\xef\xbf\xbe")) || bytes.Contains(b, []byte("\xef\xbf\xbf")) {
		b = bytes.ReplaceAll(b, []byte("\xef\xbf\xbe"), []byte(`\ufffe`))
		b = bytes.ReplaceAll(b, []byte("\xef\xbf\xbf"), []byte(`\uffff`))
	}
	return string(b), nil
}

// decodeDelta parses ERPGATE1 data strictly: one JSON object, no unknown
// keys, nothing after it, an integrity tag present.
func decodeDelta(data string) (*delta, error) {
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	var d delta
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrCorrupt)
	}
	if d.Hash == "" {
		return nil, fmt.Errorf("%w: no integrity tag", ErrCorrupt)
	}
	return &d, nil
}

// placeData writes the human-readable remarks and the data into v: Remarks
// gets human, the separator line and the first piece of data; each further
// piece goes into one OrderText.
func placeData(v *erpv1ws.Order, human, data string) error {
	var b strings.Builder
	b.Grow(len(human) + len(separator) + 2 + pieceHeaderMax + min(len(data), erpv1ws.MaxRemarksLen*utf8.UTFMax))
	if human != "" {
		b.WriteString(human)
		b.WriteByte('\n')
	}
	b.WriteString(separator)
	b.WriteByte('\n')
	room := erpv1ws.MaxRemarksLen - utf8.RuneCountInString(b.String()) - pieceHeaderMax
	first, rest := cutRunes(data, room)
	others := erpv1ws.MaxOrderTextLen - pieceHeaderMax
	n := 1 + (utf8.RuneCountInString(rest)+others-1)/others
	if n > maxPieces {
		return fmt.Errorf("%w: the order needs more than v1's %d order texts", ErrUntranslatable, erpv1ws.MaxOrderTexts)
	}
	total := strconv.Itoa(n)
	b.WriteString(dataPrefix + "1/" + total + " ")
	b.WriteString(first)
	v.Remarks = b.String()
	if n > 1 {
		texts := make([]erpv1ws.Text4000, n-1)
		v.OrderText = make([]*erpv1ws.Text4000, n-1)
		for k := 2; k <= n; k++ {
			var piece string
			piece, rest = cutRunes(rest, others)
			texts[k-2] = erpv1ws.Text4000(dataPrefix + strconv.Itoa(k) + "/" + total + " " + piece)
			v.OrderText[k-2] = &texts[k-2]
		}
	}
	return nil
}

// cutRunes splits s after n characters.
func cutRunes(s string, n int) (head, tail string) {
	i := 0
	for k := 0; k < n && i < len(s); k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i], s[i:]
}

// collectData finds the ERPGATE1 pieces in remarks (lines starting with the
// prefix) and texts (texts starting with it), checks that they form one
// complete set 1..n, and returns the joined data. Other lines and texts —
// the human-readable part, texts the ERP's users added — are ignored. A
// piece may appear twice with the same content (a resent text); two
// different contents for one piece are corrupt.
func collectData(remarks string, texts []*erpv1ws.Text4000) (string, error) {
	var pieces []string // index k-1
	total := 0
	var size int
	add := func(s string) error {
		k, n, piece, ok := parsePiece(s)
		if !ok {
			return fmt.Errorf("%w: malformed piece header", ErrCorrupt)
		}
		if total == 0 {
			if n > maxPieces {
				return fmt.Errorf("%w: %d pieces announced", ErrCorrupt, n)
			}
			total = n
			pieces = make([]string, n)
		} else if n != total {
			return fmt.Errorf("%w: pieces of %d and %d", ErrCorrupt, total, n)
		}
		if k > total {
			return fmt.Errorf("%w: piece %d of %d", ErrCorrupt, k, total)
		}
		switch prev := pieces[k-1]; {
		case prev == "":
			if piece == "" {
				return fmt.Errorf("%w: empty piece %d", ErrCorrupt, k)
			}
			size += len(piece)
			if size > maxDataBytes {
				return fmt.Errorf("%w: more than %d bytes of data", ErrCorrupt, maxDataBytes)
			}
			pieces[k-1] = piece
		case prev != piece:
			return fmt.Errorf("%w: two different contents for piece %d", ErrCorrupt, k)
		}
		return nil
	}
	rest := remarks
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		if strings.HasPrefix(line, dataPrefix) {
			if err := add(line); err != nil {
				return "", err
			}
		}
	}
	if len(texts) > maxPieces {
		return "", fmt.Errorf("%w: more than %d order texts", ErrCorrupt, erpv1ws.MaxOrderTexts)
	}
	for _, t := range texts {
		if t != nil && strings.HasPrefix(string(*t), dataPrefix) {
			if err := add(string(*t)); err != nil {
				return "", err
			}
		}
	}
	if total == 0 {
		return "", ErrNoGatewayData
	}
	for k, p := range pieces {
		if p == "" {
			return "", fmt.Errorf("%w: piece %d of %d is missing", ErrCorrupt, k+1, total)
		}
	}
	return strings.Join(pieces, ""), nil
}

// parsePiece reads "ERPGATE1 <k>/<n> <piece>": k and n decimal without
// leading zeros, 1 ≤ k ≤ n.
func parsePiece(s string) (k, n int, piece string, ok bool) {
	s = strings.TrimPrefix(s, dataPrefix)
	head, piece, found := strings.Cut(s, " ")
	if !found {
		return 0, 0, "", false
	}
	ks, ns, found := strings.Cut(head, "/")
	if !found {
		return 0, 0, "", false
	}
	k, okK := smallNumber(ks)
	n, okN := smallNumber(ns)
	if !okK || !okN || k > n {
		return 0, 0, "", false
	}
	return k, n, piece, true
}

// smallNumber parses 1..9999 without sign or leading zeros.
func smallNumber(s string) (int, bool) {
	if len(s) == 0 || len(s) > 4 || s[0] == '0' {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

// humanRemarks writes what the old ERP's users should see of the data v1
// has no field for, one labelled line each, at most humanMax characters.
// It is for people only: FromV1 reads the data, never this. Lines start
// with a label, so none can be mistaken for a data line.
func humanRemarks(o *order.Order, v *erpv1ws.Order) string {
	var h humanText
	if o.RequestedDeliveryDate != "" {
		h.line("Requested delivery date: ", o.RequestedDeliveryDate)
	}
	if o.Notes != "" {
		h.line("Notes: ", o.Notes)
	}
	if v.CustomerName != o.Customer.Name {
		h.line("Customer: ", o.Customer.Name)
	}
	contact := o.Customer.Email
	if o.Customer.Phone != "" {
		contact += ", phone " + o.Customer.Phone
	}
	if o.Customer.ID != "" {
		contact += ", customer no. " + o.Customer.ID
	}
	if contact != "" {
		h.line("Contact: ", contact)
	}
	if v.CustomerOrderNo != o.ExternalID {
		h.line("Shop order no.: ", o.ExternalID)
	}
	if v.DeliveryName != o.ShippingAddress.Name || v.DeliveryAddress != addressLine(&o.ShippingAddress) {
		h.line("Deliver to: ", o.ShippingAddress.Name+", "+addressLine(&o.ShippingAddress)+", "+o.ShippingAddress.Country)
	}
	if b := o.BillingAddress; b != nil {
		h.line("Invoice to: ", b.Name+", "+addressLine(b)+", "+b.Country)
	}
	if v.ShipVia != o.Shipping.Method || o.Shipping.Price.Round(2) != o.Shipping.Price {
		h.line("Shipping: ", o.Shipping.Method+", "+o.Shipping.Price.String()+" "+o.Currency)
	}
	for i := range o.Lines {
		if h.full() {
			break
		}
		l := &o.Lines[i]
		if l.Discount == 0 && l.UnitPrice.Round(2) == l.UnitPrice {
			continue
		}
		s := strconv.FormatInt(l.Quantity, 10) + " × " + l.UnitPrice.String()
		if l.Discount != 0 {
			s += " less discount " + l.Discount.String()
		}
		h.line("Line "+strconv.Itoa(i+1)+": ", s)
	}
	return h.String()
}

// humanText builds the human-readable part of Remarks within humanMax
// characters: each line is flattened to one line of XML-safe text, and
// what does not fit is cut with "…".
type humanText struct {
	b strings.Builder
	n int // characters written
}

func (h *humanText) full() bool { return h.n >= humanMax }

func (h *humanText) line(label, value string) {
	if h.full() {
		return
	}
	s := v1Text(label+value, humanMax) // one line, XML-safe
	if h.b.Len() > 0 {
		s = "\n" + s
	}
	c := utf8.RuneCountInString(s)
	if h.n+c > humanMax {
		s, _ = cutRunes(s, humanMax-h.n-1)
		s += "…"
		c = humanMax - h.n
	}
	h.b.WriteString(s)
	h.n += c
}

func (h *humanText) String() string { return h.b.String() }
