package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"math"
	"strings"

	"github.com/labstack/echo/v4"

	"erpgate"
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
}

// NewKeyring indexes clients by key hash. It rejects malformed entries.
func NewKeyring(clients []Client) (*Keyring, error) {
	k := &Keyring{byHash: make(map[[sha256.Size]byte]Client, len(clients)), byID: make(map[string]Client, len(clients))}
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
		{ID: "demo-shop", Kind: KindShop, KeySHA256: HashKey("demo-shop-key")},
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
