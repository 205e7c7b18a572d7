package cmdb

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

type listInstances []Instance

func (l listInstances) List(context.Context) ([]Instance, error) { return l, nil }

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func sources() Sources {
	return Sources{
		Instances: listInstances{
			{ID: "gw-b", Version: "1.4.0", Commit: "abc", ManifestDigest: strings.Repeat("d", 64), Address: "10.0.0.2:8080", Started: t0, LastSeen: t0},
			{ID: "gw-a", Version: "1.4.0", Commit: "abc", Address: "10.0.0.1:8080", Started: t0, LastSeen: t0},
		},
		Redis: func(context.Context) (Redis, error) {
			return Redis{Address: "redis.internal:6379", Mode: "standalone", Version: "7.2.4", Role: "master", AOF: "on"}, nil
		},
		ERP: func(context.Context) ([]ERPInterface, error) {
			return []ERPInterface{{Name: "v1", Endpoint: "https://erp/v1", Breaker: "closed", State: "active", Role: "beside"},
				{Name: "v2", Endpoint: "https://erp/v2", Breaker: "open", State: "active", Role: "authoritative"}}, nil
		},
		Clients: func(context.Context) ([]Client, error) {
			return []Client{{ID: "webshop", Kind: "shop"}, {ID: "acme", Kind: "supplier", SupplierID: "SUP-1"}}, nil
		},
		Webhooks: func(context.Context) ([]Webhook, error) {
			return []Webhook{{ID: "bo", Shop: "webshop", URL: "https://user:hook-password@backoffice.example/hooks?token=hook-token#x"}}, nil
		},
		Release: func(context.Context) (Release, error) {
			return Release{Version: "1.4.0", BackoutTarget: "1.3.0", Revision: 7, Stage: 2, Authoritative: "v2", ChangedAt: t0}, nil
		},
		Now: func() time.Time { return t0 },
	}
}

// TestServiceNowShape: the IRE payload has items with className, values and
// sys_object_source_info, and relations by index of type "Depends on::Used
// by" that point at the right items.
func TestServiceNowShape(t *testing.T) {
	s, err := Collect(context.Background(), sources())
	if err != nil {
		t.Fatal(err)
	}
	ire, err := s.ServiceNow("erpgate")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(ire)
	var doc struct {
		Items []struct {
			ClassName string            `json:"className"`
			Values    map[string]string `json:"values"`
			Source    map[string]string `json:"sys_object_source_info"`
		} `json:"items"`
		Relations []struct {
			Parent, Child *int
			Type          string
		} `json:"relations"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// service, redis, 2 ERP, 2 instances, release, 2 clients, 1 webhook
	if len(doc.Items) != 10 {
		t.Fatalf("items: got %d, want 10: %s", len(doc.Items), b)
	}
	classes := map[string]int{}
	for _, it := range doc.Items {
		classes[it.ClassName]++
		if it.Values["name"] == "" || it.Source["source_name"] != "erpgate" || it.Source["source_native_key"] == "" {
			t.Errorf("item without name or source info: %+v", it)
		}
	}
	want := map[string]int{"cmdb_ci_service": 1, "cmdb_ci_db_instance": 1, "cmdb_ci_endpoint_http": 3, "cmdb_ci_appl": 4, "cmdb_ci_spkg": 1}
	for c, n := range want {
		if classes[c] != n {
			t.Errorf("class %s: got %d items, want %d", c, classes[c], n)
		}
	}
	// Each instance depends on redis and both ERP interfaces (3 × 2), the
	// service on both instances, the release and the webhook (4), both
	// clients on the service (2).
	if len(doc.Relations) != 12 {
		t.Errorf("relations: got %d, want 12", len(doc.Relations))
	}
	found := false
	for _, r := range doc.Relations {
		if r.Parent == nil || r.Child == nil || r.Type != DependsOn || *r.Parent >= len(doc.Items) || *r.Child >= len(doc.Items) {
			t.Fatalf("bad relation %+v", r)
		}
		p, c := doc.Items[*r.Parent], doc.Items[*r.Child]
		if p.Values["name"] == "erpgate gw-a" && c.Values["name"] == "Redis redis.internal:6379" {
			found = true
		}
	}
	if !found {
		t.Error("no relation gateway instance gw-a → Redis")
	}
	if s.Items[4].ID != "instance:gw-a" {
		t.Errorf("instances are not sorted by id: %v", s.Items[4].ID)
	}
}

func TestNoSecretsAndFailingSources(t *testing.T) {
	src := sources()
	src.Redis = func(context.Context) (Redis, error) {
		return Redis{Address: "r:6379"}, errors.New("connection refused")
	}
	s, err := Collect(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s)
	for _, secret := range []string{"hook-password", "hook-token", "user:"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("snapshot carries %q: %s", secret, b)
		}
	}
	if len(s.Errors) != 1 || !strings.HasPrefix(s.Errors[0], "redis:") {
		t.Errorf("errors: got %v, want the redis source named", s.Errors)
	}
	if !strings.Contains(string(b), `"name":"Redis r:6379"`) {
		t.Errorf("the Redis that could not be asked is missing: %s", b)
	}
	if !strings.Contains(string(b), `"url":"https://backoffice.example/hooks"`) {
		t.Errorf("webhook URL not reduced to scheme, host and path: %s", b)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:p@h.example:8443/a/b?k=v#f": "https://h.example:8443/a/b",
		"http://erp/v1":                        "http://erp/v1",
		"not a url":                            "(not a URL)",
		"redis://:pw@host:6379/0":              "redis://host:6379/0",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
