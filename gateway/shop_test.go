package gateway

import (
	"testing"
	"time"
)

func TestShopProfiles(t *testing.T) {
	shop := func(p *ShopProfile) []Client {
		return []Client{{ID: "s", Kind: KindShop, KeySHA256: HashKey("k"), Shop: p}}
	}
	k, err := NewKeyring(shop(&ShopProfile{Name: "Laden", ContactURL: "https://laden.example/kontakt", LogoURL: "https://cdn.laden.example/l.svg",
		Language: "de-AT", TimeZone: "Europe/Vienna"}))
	if err != nil {
		t.Fatal(err)
	}
	p := k.Shop("s")
	if p == nil || p.Name != "Laden" || p.Location().String() != "Europe/Vienna" || p.version == "" {
		t.Fatalf("Shop = %+v", p)
	}
	if k.Shop("other") != nil || (*ShopProfile)(nil).Location() != time.UTC {
		t.Error("a client without a profile has one")
	}
	for name, p := range map[string]*ShopProfile{
		"no name":           {},
		"javascript link":   {Name: "x", ContactURL: "javascript:alert(1)"},
		"http logo":         {Name: "x", LogoURL: "http://cdn.example/l.png"},
		"protocol-relative": {Name: "x", LogoURL: "//cdn.example/l.png"},
		"unknown language":  {Name: "x", Language: "fr"},
		"unknown zone":      {Name: "x", TimeZone: "Mars/Olympus"},
	} {
		if _, err := NewKeyring(shop(p)); err == nil {
			t.Errorf("%s: accepted %+v", name, p)
		}
	}
	if _, err := NewKeyring([]Client{{ID: "a", Kind: KindAdmin, KeySHA256: HashKey("k"), Shop: &ShopProfile{Name: "x"}}}); err == nil {
		t.Error("an admin client with a shop profile was accepted")
	}
	if p := mustDemo(t).Shop("demo-shop"); p == nil || p.Name == "" || p.LogoURL == "" || p.ContactURL == "" {
		t.Errorf("demo shop profile %+v, want name, contact and logo", p)
	}
}

func mustDemo(t *testing.T) *Keyring {
	t.Helper()
	k, err := NewKeyring(DemoClients())
	if err != nil {
		t.Fatal(err)
	}
	return k
}
