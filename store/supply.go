package store

// Supplier documents (issue 6): the atomic accept of an acknowledgement,
// shipping notice, stock advice or invoice, their records and delivery
// states, and the per-purchase-order list of documents not yet delivered.
//
// Key layout (in addition to the package comment's). T is the tag of the
// supplier's partition (Space.TagOf(supplierID)); document ids are drawn
// into it (NewDocumentID), so every key of a document's accept is in one
// slot:
//
//	sdoc:T:<id>                 hash: json (supply.Document as accepted), supplier, kind,
//	                            docid, po, fp, created (unix ms), state, reason, attempts,
//	                            erp (JSON supply.DocResult), updated (unix ms)
//	sdoc:idem:T:<kind>|<supplier>|<docid>  string "<id> <fp>": one document per supplier,
//	                            kind and document number
//	sdoc:list:T:<kind>|<supplier> sorted set: id → created ms (the supplier's list)
//	sdoc:pending:T:<po>         list: ids of the supplier's purchase order's documents not
//	                            yet delivered, rejected or dead, in accept order
//	outbox                      entry type po.ack | asn.create | stock.update |
//	                            invoice.create, id = the document's id
//
// '|' separates ids in keys: no supplier, document or purchase order id can
// contain it (package supply's identifier alphabet).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
	"erpgate/supply"
)

var _ erp.SupplierDocuments = (*Store)(nil)

// DocumentIntake is one supplier document to accept.
type DocumentIntake struct {
	// Doc is the validated document with ID (the gateway's), Kind,
	// SupplierID, DocumentID, PONumber (except for stock advices), the
	// document field of its kind and AcceptedAt set.
	Doc *supply.Document
	// Fingerprint is the hex SHA-256 of the document's content; a repeat
	// with the same document number and another fingerprint is refused.
	Fingerprint string
	// CheckedAgainst, when not nil, is the purchase order's pending
	// documents (ids, accept order) the caller checked Doc against: the
	// accept goes through only if they are still exactly those, else it
	// fails with ErrPendingChanged and nothing is written (two documents
	// checked at once against the same state must not both pass).
	CheckedAgainst []string
}

// ErrPendingChanged is AcceptSupplierDocument's answer when the purchase
// order's pending documents changed since the caller checked against them
// (DocumentIntake.CheckedAgainst): check again and retry. Its code is
// Conflict.
var ErrPendingChanged = &erpgate.Error{Code: erpgate.Conflict,
	Message: "the purchase order changed while the document was being checked; send it again"}

// AcceptedDocument is the outcome of AcceptSupplierDocument.
type AcceptedDocument struct {
	ID string
	// Replayed: the same document (same supplier, kind, number and content)
	// had been accepted before; nothing was written and ID is the first's.
	Replayed bool
}

// AcceptSupplierDocument stores a supplier document in one atomic Redis
// step: the record, the idempotency record, the supplier's list entry, the
// purchase order's pending entry and the outbox entry, all or nothing.
// (supplier, kind, document number) names one document: the same content
// again is Replayed, other content an IdempotencyMismatch error.
//
// Errors: IdempotencyMismatch, Unavailable (nothing acknowledged), Internal
// for a caller bug.
func (s *Store) AcceptSupplierDocument(ctx context.Context, in DocumentIntake) (AcceptedDocument, error) {
	d := in.Doc
	if err := checkDocumentIntake(in); err != nil {
		return AcceptedDocument{}, err
	}
	doc, err := json.Marshal(d)
	if err != nil {
		return AcceptedDocument{}, erpgate.Wrap(erpgate.Internal, err, "internal error")
	}
	if p := s.space.Of(d.SupplierID); s.space.Of(d.ID) != p {
		return AcceptedDocument{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("store.AcceptSupplierDocument: document id %s is not in partition %d of its supplier: draw it with NewDocumentID", d.ID, p), "internal error")
	}
	ms := strconv.FormatInt(d.AcceptedAt.UnixMilli(), 10)
	tag := s.space.TagOf(d.SupplierID)
	keys := []string{docKeyIn(tag, d.ID), docIdemKey(tag, d.Kind, d.SupplierID, d.DocumentID), docListKey(tag, d.Kind, d.SupplierID), outboxKey(tag)}
	if d.PONumber != "" {
		keys = append(keys, docPendingKey(tag, d.PONumber))
	}
	args := []any{d.ID, in.Fingerprint, doc, d.SupplierID, d.Kind, d.DocumentID, d.PONumber, ms, erp.MessageType(d.Kind), 0}
	if in.CheckedAgainst != nil && d.PONumber != "" {
		args[9] = 1
		for _, id := range in.CheckedAgainst {
			args = append(args, id)
		}
	}
	// The same wait for replicas as an order's accept (wait.go): the
	// document's keys and its outbox entry are in one slot.
	reply, err := s.accepts.wait.eval(ctx, s.rdb, acceptDocScript, outboxKey(tag), keys, args)
	if err != nil {
		return AcceptedDocument{}, docAcceptFailed(err)
	}
	res := make([]string, len(reply))
	for i, v := range reply {
		res[i], _ = v.(string)
	}
	if len(res) < 2 {
		return AcceptedDocument{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("accept script returned %q", res), "internal error")
	}
	switch res[0] {
	case "ok":
		return AcceptedDocument{ID: d.ID}, nil
	case "replay":
		return AcceptedDocument{ID: res[1], Replayed: true}, nil
	case "stale":
		return AcceptedDocument{}, ErrPendingChanged
	case "mismatch":
		return AcceptedDocument{}, &erpgate.Error{Code: erpgate.IdempotencyMismatch,
			Message: fmt.Sprintf("the %s %q was already accepted with different content", strings.ReplaceAll(d.Kind, "_", " "), d.DocumentID),
			Err:     fmt.Errorf("existing document %s", res[1])}
	default:
		return AcceptedDocument{}, erpgate.Wrap(erpgate.Internal, fmt.Errorf("document id %s already in use", res[1]), "internal error")
	}
}

// docAcceptFailed is acceptFailed for a supplier document: only a failure
// that proves the script never ran says nothing was stored.
func docAcceptFailed(err error) *erpgate.Error {
	if notSent(err) {
		return &erpgate.Error{Code: erpgate.Unavailable, Err: err,
			Message: "document store unavailable: nothing was stored; retry later"}
	}
	return &erpgate.Error{Code: erpgate.OutcomeUnknown, Err: err,
		Message: "the document store failed while accepting: the document may or may not have been stored. " +
			"Sending the same document again (same number, same content) is safe: it is stored once"}
}

func checkDocumentIntake(in DocumentIntake) error {
	internal := func(msg string) error {
		return erpgate.Wrap(erpgate.Internal, errors.New("store.AcceptSupplierDocument: "+msg), "internal error")
	}
	d := in.Doc
	switch {
	case d == nil:
		return internal("nil document")
	case d.ID == "" || strings.ContainsAny(d.ID, " :|"):
		return internal("bad id " + strconv.Quote(d.ID))
	case erp.MessageType(d.Kind) == "":
		return internal("unknown kind " + strconv.Quote(d.Kind))
	case !keyPart(d.SupplierID) || !keyPart(d.DocumentID) || (d.PONumber != "" && !keyPart(d.PONumber)):
		return internal("supplier, document or purchase order id empty or with '|' or space")
	case d.PONumber == "" && d.Kind != supply.KindStockAdvice:
		return internal("a " + d.Kind + " needs its purchase order number")
	case in.Fingerprint == "" || strings.Contains(in.Fingerprint, " "):
		return internal("bad fingerprint")
	case d.AcceptedAt.IsZero():
		return internal("no accept time")
	}
	return nil
}

func keyPart(s string) bool { return s != "" && !strings.ContainsAny(s, "| ") }

// SupplierDocument returns the document with gateway id id. Errors:
// NotFound, Unavailable, Internal (a corrupt record).
func (s *Store) SupplierDocument(ctx context.Context, id string) (*supply.Document, error) {
	if id == "" || strings.ContainsAny(id, " :|") {
		return nil, docNotFound(id)
	}
	h, err := s.rdb.HGetAll(ctx, s.docKey(id)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(h) == 0 {
		return nil, docNotFound(id)
	}
	return decodeDocument(id, h)
}

func decodeDocument(id string, h map[string]string) (*supply.Document, error) {
	d := new(supply.Document)
	corrupt := func(err error) error {
		return erpgate.Wrap(erpgate.Internal, fmt.Errorf("supplier document %s: %w", id, err), "internal error")
	}
	if err := json.Unmarshal([]byte(h["json"]), d); err != nil {
		return nil, corrupt(err)
	}
	d.State, d.Reason = h["state"], h["reason"]
	d.Attempts, _ = strconv.Atoi(h["attempts"])
	if v := h["erp"]; v != "" {
		d.ERP = new(supply.DocResult)
		if err := json.Unmarshal([]byte(v), d.ERP); err != nil {
			return nil, corrupt(err)
		}
	}
	if ms, err := strconv.ParseInt(h["updated"], 10, 64); err == nil && ms > 0 {
		d.UpdatedAt = time.UnixMilli(ms).UTC()
	}
	return d, nil
}

// SupplierDocumentByNumber returns supplier's document of kind with the
// supplier's document number docID. Errors: NotFound (also for another
// supplier's), Unavailable.
func (s *Store) SupplierDocumentByNumber(ctx context.Context, supplier, kind, docID string) (*supply.Document, error) {
	if !keyPart(supplier) || !keyPart(docID) || erp.MessageType(kind) == "" {
		return nil, docNotFound(docID)
	}
	v, err := s.rdb.Get(ctx, docIdemKey(s.space.TagOf(supplier), kind, supplier, docID)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, docNotFound(docID)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	id, _, _ := strings.Cut(v, " ")
	d, err := s.SupplierDocument(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.SupplierID != supplier || d.Kind != kind {
		return nil, docNotFound(docID)
	}
	return d, nil
}

// MaxDocumentPage bounds a page of SupplierDocuments.
const MaxDocumentPage = 100

// SupplierDocuments returns one page of supplier's documents of kind,
// newest first, and how many there are. limit is 1 to MaxDocumentPage.
// Errors: Unavailable, Internal.
func (s *Store) SupplierDocuments(ctx context.Context, supplier, kind string, offset, limit int) ([]*supply.Document, int, error) {
	if !keyPart(supplier) || erp.MessageType(kind) == "" {
		return nil, 0, nil
	}
	limit = min(max(limit, 1), MaxDocumentPage)
	offset = max(offset, 0)
	key := docListKey(s.space.TagOf(supplier), kind, supplier)
	var total *redis.IntCmd
	var ids *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		total = p.ZCard(ctx, key)
		ids = p.ZRevRange(ctx, key, int64(offset), int64(offset+limit-1))
		return nil
	})
	if err != nil {
		return nil, 0, unavailable(err)
	}
	docs, err := s.documents(ctx, ids.Val())
	return docs, int(total.Val()), err
}

// documents reads the records of ids in one round trip, skipping missing
// ones.
func (s *Store) documents(ctx context.Context, ids []string) ([]*supply.Document, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.docKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]*supply.Document, 0, len(ids))
	for i, c := range cmds {
		if len(c.Val()) == 0 {
			continue
		}
		d, err := decodeDocument(ids[i], c.Val())
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// SetDocumentDelivery records the delivery state dd of document id. A
// delivered or rejected document keeps its state; a dead one takes only a
// final state (a replayed dead letter that went through); a final state
// takes the document off its purchase order's pending list in the same
// step. Errors: NotFound, Unavailable, Internal for an unknown state.
func (s *Store) SetDocumentDelivery(ctx context.Context, id string, dd supply.DocumentDelivery) error {
	switch dd.State {
	case supply.DocPending, supply.DocDelivered, supply.DocRejected, supply.DocDead:
	default:
		return erpgate.Wrap(erpgate.Internal, fmt.Errorf("unknown document state %q", dd.State), "internal error")
	}
	if id == "" || strings.ContainsAny(id, " :|") {
		return docNotFound(id)
	}
	tag := s.space.TagOf(id)
	po, err := s.rdb.HGet(ctx, docKeyIn(tag, id), "po").Result()
	if errors.Is(err, redis.Nil) {
		return docNotFound(id)
	}
	if err != nil {
		return unavailable(err)
	}
	res := ""
	if dd.ERP != nil {
		b, _ := json.Marshal(dd.ERP)
		res = string(b)
	}
	updated := dd.UpdatedAt
	if updated.IsZero() {
		updated = s.now()
	}
	pending := docPendingKey(tag, "-") // a key no purchase order has: the script needs one
	if po != "" {
		pending = docPendingKey(tag, po)
	}
	out, err := setDocScript.Run(ctx, s.rdb, []string{docKeyIn(tag, id), pending},
		id, dd.State, dd.Reason, dd.Attempts, res, updated.UnixMilli()).Text()
	if err != nil {
		return unavailable(err)
	}
	if out == "nf" {
		return docNotFound(id)
	}
	return nil
}

// PendingBefore returns the ids of the documents of doc's purchase order
// that were accepted before doc and are not final yet, oldest first.
func (s *Store) PendingBefore(ctx context.Context, doc *supply.Document) ([]string, error) {
	if doc.PONumber == "" {
		return nil, nil
	}
	ids, err := s.rdb.LRange(ctx, docPendingKey(s.space.TagOf(doc.SupplierID), doc.PONumber), 0, -1).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	for i, id := range ids {
		if id == doc.ID {
			return ids[:i], nil
		}
	}
	return nil, nil // not pending (any more): nothing to wait for
}

// PendingDocuments returns the documents of supplier's purchase order po that are
// accepted but not yet delivered, rejected or dead, in accept order: what
// the gateway lays over the ERP's view of the order to check a new document
// against.
func (s *Store) PendingDocuments(ctx context.Context, supplier, po string) ([]*supply.Document, error) {
	docs, _, err := s.PendingState(ctx, supplier, po)
	return docs, err
}

// PendingState is PendingDocuments with the ids of the purchase order's
// pending list as they were read (not nil; a document whose record is gone
// has an id but no document): what DocumentIntake.CheckedAgainst wants.
func (s *Store) PendingState(ctx context.Context, supplier, po string) ([]*supply.Document, []string, error) {
	if !keyPart(po) || !keyPart(supplier) {
		return nil, []string{}, nil
	}
	ids, err := s.rdb.LRange(ctx, docPendingKey(s.space.TagOf(supplier), po), 0, -1).Result()
	if err != nil {
		return nil, nil, unavailable(err)
	}
	if ids == nil {
		ids = []string{}
	}
	docs, err := s.documents(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	return docs, ids, nil
}

// NewDocumentID draws a supplier document id with gen into the partition
// of its supplier, as AcceptSupplierDocument requires: every key of the
// document's accept (its record, its number's record, the supplier's list,
// the purchase order's pending list) is under the supplier's tag.
func (s *Store) NewDocumentID(supplier string, gen func() string) string {
	return s.space.NewID(s.space.Of(supplier), gen)
}

// docKey is document id's record, under its partition's tag (the
// supplier's: the id is drawn into it).
func (s *Store) docKey(id string) string { return docKeyIn(s.space.TagOf(id), id) }

func docKeyIn(tag, id string) string { return "sdoc:" + tag + ":" + id }
func docIdemKey(tag, kind, supplier, docID string) string {
	return "sdoc:idem:" + tag + ":" + kind + "|" + supplier + "|" + docID
}
func docListKey(tag, kind, supplier string) string {
	return "sdoc:list:" + tag + ":" + kind + "|" + supplier
}
func docPendingKey(tag, po string) string { return "sdoc:pending:" + tag + ":" + po }
func docNotFound(id string) *erpgate.Error {
	return erpgate.Errorf(erpgate.NotFound, "document %q not found", id)
}

// acceptDocScript: KEYS doc, idem, list, outbox[, pending]
// ARGV id, fp, json, supplier, kind, docid, po, createdms, type, check(0|1), checked pending id...
// Returns {"ok", id} | {"replay", id} | {"mismatch", id} | {"exists", id} |
// {"stale", ""} (check 1 and the pending list is not the checked one).
var acceptDocScript = redis.NewScript(`
local v = redis.call('GET', KEYS[2])
if v then
  local sp = string.find(v, ' ', 1, true)
  local id, fp = string.sub(v, 1, sp - 1), string.sub(v, sp + 1)
  if fp ~= ARGV[2] then return {'mismatch', id} end
  return {'replay', id}
end
if ARGV[10] == '1' and #KEYS == 5 then
  local cur = redis.call('LRANGE', KEYS[5], 0, -1)
  if #cur ~= #ARGV - 10 then return {'stale', ''} end
  for i = 1, #cur do
    if cur[i] ~= ARGV[10 + i] then return {'stale', ''} end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists', ARGV[1]} end
redis.call('HSET', KEYS[1], 'json', ARGV[3], 'supplier', ARGV[4], 'kind', ARGV[5], 'docid', ARGV[6],
  'po', ARGV[7], 'fp', ARGV[2], 'created', ARGV[8], 'state', 'pending', 'updated', ARGV[8])
redis.call('SET', KEYS[2], ARGV[1] .. ' ' .. ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1])
if #KEYS == 5 then redis.call('RPUSH', KEYS[5], ARGV[1]) end
redis.call('XADD', KEYS[4], '*', 'type', ARGV[9], 'id', ARGV[1], 'at', ARGV[8])
return {'ok', ARGV[1]}
`)

// setDocScript: KEYS doc, pending; ARGV id, state, reason, attempts, erp, updatedms
// Returns "ok", "kept" or "nf".
var setDocScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'nf' end
local cur = redis.call('HGET', KEYS[1], 'state')
if cur == 'delivered' or cur == 'rejected' or (cur == 'dead' and ARGV[2] == 'pending') then
  return 'kept'
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'reason', ARGV[3], 'attempts', ARGV[4], 'erp', ARGV[5], 'updated', ARGV[6])
if ARGV[2] ~= 'pending' then redis.call('LREM', KEYS[2], 0, ARGV[1]) end
return 'ok'
`)
