package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/tracking"
)

// Client kinds.
const (
	KindShop     = "shop"
	KindSupplier = "supplier"
	KindAdmin    = "admin"
	KindERP      = "erp" // the ERP's status push callback
)

// Client is one caller that may authenticate with an API key. Keys are never
// stored, only their SHA-256 (API keys are long random strings, so a fast hash
// is the right tool; a password hash would only slow every request).
type Client struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	KeySHA256  string `json:"key_sha256"`
	SupplierID string `json:"supplier_id,omitempty"`
	// HMACSecret, for suppliers, enables HMAC-signed requests.
	HMACSecret string `json:"hmac_secret,omitempty"`
	// RateLimit, if set, replaces the default rate limit for this client
	// (ratelimit.go); {"per_second": 0} means none.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// Shop, for shops, is what the customer's tracking page says about
	// the shop (name, contact, logo, language, time zone).
	Shop *ShopProfile `json:"shop,omitempty"`
}

// ShopProfile is a shop as its customers see it on the tracking page.
type ShopProfile struct {
	// Name is the shop's name in the page's header, title and footer.
	Name string `json:"name"`
	// ContactURL is the footer's contact link: https, http, mailto or tel.
	ContactURL string `json:"contact_url,omitempty"`
	// LogoURL is the header's logo: a path on the gateway or an https URL.
	LogoURL string `json:"logo_url,omitempty"`
	// Language is the page's language when the customer's browser asks for
	// none the page has (a BCP 47 tag, "en" or "de"); default English.
	Language string `json:"language,omitempty"`
	// TimeZone is an IANA zone ("Europe/Berlin"): the page states times in
	// it until the customer's browser restates them in the customer's own;
	// default UTC.
	TimeZone string `json:"time_zone,omitempty"`

	loc     *time.Location
	version string // a digest of the fields, part of the page's ETag
}

// Location returns the profile's time zone (UTC when none is set).
func (p *ShopProfile) Location() *time.Location {
	if p == nil || p.loc == nil {
		return time.UTC
	}
	return p.loc
}

// check validates the profile and resolves its time zone.
func (p *ShopProfile) check() error {
	if p.Name == "" || len(p.Name) > 100 {
		return errors.New("shop.name is required (at most 100 bytes)")
	}
	if p.ContactURL != "" {
		u, err := url.Parse(p.ContactURL)
		if err != nil || !((u.Scheme == "https" || u.Scheme == "http") && u.Host != "" || (u.Scheme == "mailto" || u.Scheme == "tel") && u.Opaque != "") {
			return errors.New("shop.contact_url must be an https, http, mailto or tel URL")
		}
	}
	if p.LogoURL != "" {
		u, err := url.Parse(p.LogoURL)
		local := strings.HasPrefix(p.LogoURL, "/") && !strings.HasPrefix(p.LogoURL, "//")
		if err != nil || !local && (u.Scheme != "https" || u.Host == "") {
			return errors.New("shop.logo_url must be a path on the gateway (/…) or an https URL")
		}
	}
	if p.Language != "" {
		if _, ok := tracking.PageTexts().Supported(p.Language); !ok {
			return fmt.Errorf("shop.language %q is none of the tracking page's languages", p.Language)
		}
	}
	if p.TimeZone != "" {
		loc, err := time.LoadLocation(p.TimeZone)
		if err != nil {
			return fmt.Errorf("shop.time_zone: %w", err)
		}
		p.loc = loc
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{p.Name, p.ContactURL, p.LogoURL, p.Language, p.TimeZone}, "\x00")))
	p.version = hex.EncodeToString(sum[:4])
	return nil
}

// Principal is the authenticated caller of a request.
type Principal struct {
	ClientID   string
	Kind       string
	SupplierID string
}

// HashKey returns the hex SHA-256 of an API key, the form clients are
// configured with.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Keyring resolves API keys to principals.
type Keyring struct {
	byHash map[[sha256.Size]byte]Client
	byID   map[string]Client
	shops  map[string]*ShopProfile // by client id
}

// Shop returns the profile of the shop client id, or nil when it has none.
func (k *Keyring) Shop(id string) *ShopProfile { return k.shops[id] }

// NewKeyring indexes clients by key hash. It rejects malformed entries.
func NewKeyring(clients []Client) (*Keyring, error) {
	k := &Keyring{byHash: make(map[[sha256.Size]byte]Client, len(clients)), byID: make(map[string]Client, len(clients)),
		shops: make(map[string]*ShopProfile)}
	for i, c := range clients {
		raw, err := hex.DecodeString(c.KeySHA256)
		if err != nil || len(raw) != sha256.Size {
			return nil, erpgate.Errorf(erpgate.Invalid, "client %d (%q): key_sha256 must be 64 hex digits", i, c.ID)
		}
		switch c.Kind {
		case KindShop, KindAdmin, KindERP:
		case KindSupplier:
			if c.SupplierID == "" {
				return nil, erpgate.Errorf(erpgate.Invalid, "client %d (%q): a supplier client needs supplier_id", i, c.ID)
			}
		default:
			return nil, erpgate.Errorf(erpgate.Invalid, "client %d (%q): kind must be shop, supplier, admin or erp", i, c.ID)
		}
		if c.ID == "" {
			return nil, erpgate.Errorf(erpgate.Invalid, "client %d: id is required", i)
		}
		if rl := c.RateLimit; rl != nil && (!(rl.PerSecond >= 0) || math.IsInf(rl.PerSecond, 0) || rl.Burst < 0) {
			return nil, erpgate.Errorf(erpgate.Invalid, "client %d (%q): rate_limit needs per_second ≥ 0 and burst ≥ 0", i, c.ID)
		}
		if c.Shop != nil {
			if c.Kind != KindShop {
				return nil, erpgate.Errorf(erpgate.Invalid, "client %d (%q): only a shop client has a shop profile", i, c.ID)
			}
			p := *c.Shop
			if err := p.check(); err != nil {
				return nil, erpgate.Errorf(erpgate.Invalid, "client %d (%q): %v", i, c.ID, err)
			}
			c.Shop = &p
			k.shops[c.ID] = &p
		}
		var h [sha256.Size]byte
		copy(h[:], raw)
		k.byHash[h] = c
		k.byID[c.ID] = c
	}
	return k, nil
}

// Clients returns every client of the keyring, in no particular order
// (with their key hashes and secrets: callers that show them anywhere must
// drop those).
func (k *Keyring) Clients() []Client {
	out := make([]Client, 0, len(k.byHash))
	for _, c := range k.byHash {
		out = append(out, c)
	}
	return out
}

// Lookup returns the client whose key is key.
func (k *Keyring) Lookup(key string) (Client, bool) {
	h := sha256.Sum256([]byte(key))
	c, ok := k.byHash[h]
	if !ok {
		return Client{}, false
	}
	// The map lookup already matched the hash; compare again in constant
	// time so that no code path branches on partial matches.
	stored, _ := hex.DecodeString(c.KeySHA256)
	if subtle.ConstantTimeCompare(stored, h[:]) != 1 {
		return Client{}, false
	}
	return c, true
}

// DemoClients are the documented demo credentials used when no client
// configuration is given.
func DemoClients() []Client {
	return []Client{
		{ID: "demo-shop", Kind: KindShop, KeySHA256: HashKey("demo-shop-key"), Shop: &ShopProfile{
			Name: "Demo Kitchen Shop", ContactURL: "mailto:service@demo-shop.example", LogoURL: "/favicon.svg",
			Language: "en", TimeZone: "Europe/Berlin"}},
		{ID: "demo-admin", Kind: KindAdmin, KeySHA256: HashKey("demo-admin-token")},
		{ID: "demo-supplier-1", Kind: KindSupplier, SupplierID: "SUP-1", KeySHA256: HashKey("demo-supplier-key-1"), HMACSecret: "demo-supplier-secret-1"},
		{ID: "demo-supplier-2", Kind: KindSupplier, SupplierID: "SUP-2", KeySHA256: HashKey("demo-supplier-key-2"), HMACSecret: "demo-supplier-secret-2"},
		{ID: "demo-erp", Kind: KindERP, KeySHA256: HashKey("demo-erp-callback-key")},
	}
}

const principalKey = "erpgate.principal"

// bearer extracts the token of an "Authorization: Bearer" header.
func bearer(c echo.Context) string {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// requireKind authenticates the request's bearer key and admits only the
// given client kinds.
func requireKind(k *Keyring, kinds ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			key := bearer(c)
			if key == "" {
				return erpgate.Errorf(erpgate.Unauthorized, "missing credentials: send Authorization: Bearer <api key>")
			}
			cl, ok := k.Lookup(key)
			if !ok {
				return erpgate.Errorf(erpgate.Unauthorized, "invalid API key")
			}
			allowed := false
			for _, kind := range kinds {
				allowed = allowed || cl.Kind == kind
			}
			if !allowed {
				return erpgate.Errorf(erpgate.Forbidden, "this key may not call this API")
			}
			c.Set(principalKey, Principal{ClientID: cl.ID, Kind: cl.Kind, SupplierID: cl.SupplierID})
			authenticated(c)
			return next(c)
		}
	}
}

func principal(c echo.Context) Principal {
	p, _ := c.Get(principalKey).(Principal)
	return p
}
