// Package cmdb describes a running erpgate deployment as configuration items
// (CIs) and their relations, for a configuration management database: the
// gateway instances (from the instance registry's heartbeats), the Redis
// deployment, the ERP interfaces v1 and v2, the client applications, the
// webhook endpoints and the live release, all hanging off one business
// service "erpgate".
//
// Collect gathers a Snapshot from Sources, each a small consumer-side
// interface or function that the wiring in cmd/gateway fills; ServiceNow
// turns it into the payload of ServiceNow's Identification and
// Reconciliation API (POST /api/now/identifyreconcile).
//
// Secrets never enter a Snapshot: the source types have no field for a key,
// a key hash, an HMAC or webhook secret or a password, and URLs are reduced
// to scheme, host and path (RedactURL) before they are stored.
package cmdb

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Instance is one gateway instance as the instance registry reports it.
type Instance struct {
	ID             string
	Version        string
	Commit         string
	ManifestDigest string
	Address        string
	Started        time.Time
	LastSeen       time.Time
}

// Instances lists the registered gateway instances (the live ones: the
// registry forgets an instance whose heartbeat stopped).
type Instances interface {
	List(ctx context.Context) ([]Instance, error)
}

// Redis is the Redis deployment.
type Redis struct {
	Address  string // host:port or the Sentinel master name; never a password
	Mode     string // standalone, sentinel, cluster, embedded
	Version  string
	Role     string // master, replica
	AOF      string // "on", "off" or "unknown"
	Fsync    string // appendfsync policy when known
	Replicas int
}

// ERPInterface is one ERP interface the gateway delivers to.
type ERPInterface struct {
	Name       string // v1, v2
	Endpoint   string // RedactURL of the SOAP endpoint
	WSDLDigest string // SHA-256 of the WSDL the adapter is built on
	Breaker    string // closed, half-open, open (this instance's breaker)
	State      string // active, paused (release plan)
	Role       string // the interface's role in the plan, e.g. "authoritative", "authoritative for cohort pilot", "beside"
}

// Client is one client application (API key holder), without its key.
type Client struct {
	ID         string
	Kind       string // shop, supplier, admin, erp
	SupplierID string
}

// Webhook is one webhook endpoint, without its secret.
type Webhook struct {
	ID     string
	Shop   string
	URL    string // RedactURL of the endpoint
	Static bool   // from the config file
}

// Release is the live release: the plan in force and the version it names.
type Release struct {
	Version        string // plan "live"; "" when not tracked
	BackoutTarget  string
	ManifestDigest string // of the live version's stored manifest, when there is one
	Revision       int64
	Stage          int
	Authoritative  string
	ChangedAt      time.Time
}

// Sources are where Collect reads from. A nil source is left out; a source
// that fails is named in Snapshot.Errors and the rest is still collected.
type Sources struct {
	Instances Instances
	Redis     func(ctx context.Context) (Redis, error)
	ERP       func(ctx context.Context) ([]ERPInterface, error)
	Clients   func(ctx context.Context) ([]Client, error)
	Webhooks  func(ctx context.Context) ([]Webhook, error)
	Release   func(ctx context.Context) (Release, error)
	// Service names the business service (default "erpgate").
	Service string
	Now     func() time.Time
}

// Classes of configuration items (the "class" of an Item) and the
// ServiceNow class each maps to.
const (
	ClassService  = "service"
	ClassInstance = "gateway_instance"
	ClassRedis    = "redis"
	ClassERP      = "erp_interface"
	ClassClient   = "client_application"
	ClassWebhook  = "webhook_endpoint"
	ClassRelease  = "release"
)

// ServiceNowClass maps each class to the ServiceNow CMDB class its items
// are reconciled into.
var ServiceNowClass = map[string]string{
	ClassService:  "cmdb_ci_service",
	ClassInstance: "cmdb_ci_appl",
	ClassRedis:    "cmdb_ci_db_instance",
	ClassERP:      "cmdb_ci_endpoint_http",
	ClassClient:   "cmdb_ci_appl",
	ClassWebhook:  "cmdb_ci_endpoint_http",
	ClassRelease:  "cmdb_ci_spkg",
}

// DependsOn is the one relation type: the parent depends on the child
// (ServiceNow's "Depends on::Used by").
const DependsOn = "Depends on::Used by"

// Item is one configuration item. ID is stable across snapshots (class and
// natural key); Values are strings, as ServiceNow takes them.
type Item struct {
	Class  string            `json:"class"`
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Values map[string]string `json:"values"`
}

// Relation says that Parent depends on Child (item IDs).
type Relation struct {
	Parent string `json:"parent"`
	Child  string `json:"child"`
	Type   string `json:"type"`
}

// Snapshot is the deployment at one moment.
type Snapshot struct {
	GeneratedAt time.Time  `json:"generated_at"`
	Items       []Item     `json:"items"`
	Relations   []Relation `json:"relations"`
	// Errors name the sources that could not be read (the snapshot lacks
	// their items).
	Errors []string `json:"errors"`
}

// Collect reads every source into a Snapshot. It fails only when ctx is
// done; a failing source is named in Errors.
func Collect(ctx context.Context, src Sources) (Snapshot, error) {
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	name := src.Service
	if name == "" {
		name = "erpgate"
	}
	s := Snapshot{GeneratedAt: now().UTC(), Items: []Item{}, Relations: []Relation{}, Errors: []string{}}
	svc := s.add(Item{Class: ClassService, ID: "service:" + name, Name: name,
		Values: map[string]string{"name": name, "short_description": "WebServices gateway between the online shop, customers, suppliers and the ERP"}})
	fail := func(what string, err error) { s.Errors = append(s.Errors, what+": "+err.Error()) }

	var backends []string // what every instance depends on
	if src.Redis != nil {
		r, err := src.Redis(ctx)
		if err != nil {
			fail("redis", err)
		}
		// What is known of a Redis that could not be asked (its address)
		// is still an item.
		if err == nil || r.Address != "" {
			backends = append(backends, s.add(Item{Class: ClassRedis, ID: "redis:" + r.Address, Name: "Redis " + r.Address,
				Values: map[string]string{"name": "Redis " + r.Address, "version": r.Version, "u_mode": r.Mode, "u_role": r.Role,
					"u_aof": r.AOF, "u_appendfsync": r.Fsync, "u_replicas": strconv.Itoa(r.Replicas), "u_address": r.Address}}))
		}
	}
	if src.ERP != nil {
		if es, err := src.ERP(ctx); err != nil {
			fail("erp", err)
		} else {
			for _, e := range es {
				n := "ERP interface " + e.Name
				backends = append(backends, s.add(Item{Class: ClassERP, ID: "erp:" + e.Name, Name: n,
					Values: map[string]string{"name": n, "url": e.Endpoint, "u_wsdl_sha256": e.WSDLDigest,
						"u_breaker": e.Breaker, "u_plan_state": e.State, "u_plan_role": e.Role}}))
			}
		}
	}
	if src.Instances != nil {
		is, err := src.Instances.List(ctx)
		if err != nil {
			fail("instances", err)
		}
		slices.SortFunc(is, func(a, b Instance) int { return strings.Compare(a.ID, b.ID) })
		for _, in := range is {
			n := name + " " + in.ID
			id := s.add(Item{Class: ClassInstance, ID: "instance:" + in.ID, Name: n,
				Values: map[string]string{"name": n, "version": in.Version, "u_commit": in.Commit,
					"u_manifest_sha256": in.ManifestDigest, "u_address": in.Address,
					"u_started": stamp(in.Started), "u_last_seen": stamp(in.LastSeen)}})
			s.relate(svc, id)
			for _, b := range backends {
				s.relate(id, b)
			}
		}
	}
	if src.Release != nil {
		if r, err := src.Release(ctx); err != nil {
			fail("release", err)
		} else {
			v := r.Version
			if v == "" {
				v = "untracked"
			}
			n := name + " " + v
			s.relate(svc, s.add(Item{Class: ClassRelease, ID: "release:" + v, Name: n,
				Values: map[string]string{"name": n, "version": r.Version, "u_backout_target": r.BackoutTarget,
					"u_manifest_sha256": r.ManifestDigest, "u_plan_revision": strconv.FormatInt(r.Revision, 10),
					"u_stage": strconv.Itoa(r.Stage), "u_authoritative": r.Authoritative, "u_changed_at": stamp(r.ChangedAt)}}))
		}
	}
	if src.Clients != nil {
		cs, err := src.Clients(ctx)
		if err != nil {
			fail("clients", err)
		}
		slices.SortFunc(cs, func(a, b Client) int { return strings.Compare(a.ID, b.ID) })
		for _, c := range cs {
			n := "client " + c.ID
			s.relate(s.add(Item{Class: ClassClient, ID: "client:" + c.ID, Name: n,
				Values: map[string]string{"name": n, "u_client_id": c.ID, "u_kind": c.Kind, "u_supplier_id": c.SupplierID}}), svc)
		}
	}
	if src.Webhooks != nil {
		ws, err := src.Webhooks(ctx)
		if err != nil {
			fail("webhooks", err)
		}
		slices.SortFunc(ws, func(a, b Webhook) int { return strings.Compare(a.ID, b.ID) })
		for _, w := range ws {
			n := "webhook " + w.ID
			s.relate(svc, s.add(Item{Class: ClassWebhook, ID: "webhook:" + w.ID, Name: n,
				Values: map[string]string{"name": n, "url": RedactURL(w.URL), "u_shop": w.Shop, "u_static": strconv.FormatBool(w.Static)}}))
		}
	}
	if err := ctx.Err(); err != nil {
		return s, err
	}
	return s, nil
}

func (s *Snapshot) add(it Item) string {
	for k, v := range it.Values {
		if v == "" {
			delete(it.Values, k)
		}
	}
	s.Items = append(s.Items, it)
	return it.ID
}

func (s *Snapshot) relate(parent, child string) {
	s.Relations = append(s.Relations, Relation{Parent: parent, Child: child, Type: DependsOn})
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// RedactURL reduces a URL to scheme, host and path: no user info (a
// password), no query (a token), no fragment. What does not parse is
// replaced by a placeholder, never passed on.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// IRE is the request body of ServiceNow's Identification and
// Reconciliation API: items with their class and values, and relations
// between them by index into Items.
type IRE struct {
	Items     []IREItem     `json:"items"`
	Relations []IRERelation `json:"relations"`
}

// IREItem is one CI of an IRE payload.
type IREItem struct {
	ClassName  string            `json:"className"`
	Values     map[string]string `json:"values"`
	SourceInfo IRESourceInfo     `json:"sys_object_source_info"`
}

// IRESourceInfo names the data source of an item and its key there.
type IRESourceInfo struct {
	SourceName      string `json:"source_name"`
	SourceNativeKey string `json:"source_native_key"`
	SourceRecency   string `json:"source_recency_timestamp"`
}

// IRERelation is one relation of an IRE payload, by item index.
type IRERelation struct {
	Parent int    `json:"parent"`
	Child  int    `json:"child"`
	Type   string `json:"type"`
}

// ServiceNow returns s as an IRE payload; source is the discovery source
// name the ServiceNow instance knows this feed by (sysparm_data_source).
func (s Snapshot) ServiceNow(source string) (IRE, error) {
	out := IRE{Items: make([]IREItem, 0, len(s.Items)), Relations: make([]IRERelation, 0, len(s.Relations))}
	index := make(map[string]int, len(s.Items))
	recency := s.GeneratedAt.UTC().Format("2006-01-02 15:04:05")
	for i, it := range s.Items {
		cls, ok := ServiceNowClass[it.Class]
		if !ok {
			return IRE{}, fmt.Errorf("cmdb: no ServiceNow class for %q", it.Class)
		}
		index[it.ID] = i
		out.Items = append(out.Items, IREItem{ClassName: cls, Values: it.Values,
			SourceInfo: IRESourceInfo{SourceName: source, SourceNativeKey: it.ID, SourceRecency: recency}})
	}
	for _, r := range s.Relations {
		p, okp := index[r.Parent]
		c, okc := index[r.Child]
		if !okp || !okc {
			return IRE{}, fmt.Errorf("cmdb: relation %s → %s names an unknown item", r.Parent, r.Child)
		}
		out.Relations = append(out.Relations, IRERelation{Parent: p, Child: c, Type: r.Type})
	}
	return out, nil
}
