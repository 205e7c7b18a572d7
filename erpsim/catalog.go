package erpsim

import (
	"net/http"

	"erpgate/order"
)

// Product is one item the simulated ERP sells.
type Product struct {
	SKU   string        `json:"sku"`
	Name  string        `json:"name"`
	Price order.Decimal `json:"price"` // list price in EUR
	// Stock is the quantity on hand. Orders are not refused for lack of
	// stock; a short line is backordered (issue 5) and replenished from
	// Supplier (issue 6).
	Stock int64 `json:"stock"`
	// Supplier is the supplier id that replenishes this product.
	Supplier string `json:"supplier"`
}

// DemoCatalog returns the demo catalog: SKU-1001 … SKU-1020. SKU-1004,
// SKU-1011 and SKU-1017 have little or no stock, for backorder scenarios.
// The README lists the same table.
func DemoCatalog() []Product {
	p := func(sku, name, price string, stock int64, supplier string) Product {
		return Product{SKU: sku, Name: name, Price: order.MustDecimal(price), Stock: stock, Supplier: supplier}
	}
	return []Product{
		p("SKU-1001", "Espresso cups, set of 6", "24.90", 500, "SUP-1"),
		p("SKU-1002", "Stainless steel kettle 1.7 l", "39.95", 120, "SUP-1"),
		p("SKU-1003", "Burr coffee grinder", "89.00", 60, "SUP-1"),
		p("SKU-1004", "Cast iron casserole 24 cm", "129.00", 3, "SUP-2"),
		p("SKU-1005", "Chef's knife 20 cm", "59.50", 80, "SUP-2"),
		p("SKU-1006", "Cutting board, oak", "34.00", 150, "SUP-2"),
		p("SKU-1007", "Linen tea towels, set of 3", "14.99", 400, "SUP-1"),
		p("SKU-1008", "French press 1 l", "29.90", 90, "SUP-1"),
		p("SKU-1009", "Digital kitchen scale", "19.99", 200, "SUP-2"),
		p("SKU-1010", "Silicone spatula set", "12.50", 300, "SUP-2"),
		p("SKU-1011", "Stand mixer 5 l", "349.00", 0, "SUP-2"),
		p("SKU-1012", "Pour-over dripper, ceramic", "22.00", 75, "SUP-1"),
		p("SKU-1013", "Glass storage jars, set of 4", "27.80", 160, "SUP-1"),
		p("SKU-1014", "Non-stick frying pan 28 cm", "44.90", 110, "SUP-2"),
		p("SKU-1015", "Bamboo utensil holder", "9.95", 250, "SUP-1"),
		p("SKU-1016", "Milk frother", "18.40", 140, "SUP-1"),
		p("SKU-1017", "Espresso machine, dual boiler", "1299.00", 2, "SUP-2"),
		p("SKU-1018", "Measuring cups and spoons", "11.25", 320, "SUP-2"),
		p("SKU-1019", "Tea infuser, stainless", "6.90", 500, "SUP-1"),
		p("SKU-1020", "Gift card", "25.00", 100000, "SUP-1"),
	}
}

// Catalog returns the products the simulator sells, in catalog order.
func (s *Sim) Catalog() []Product {
	out := make([]Product, len(s.products))
	copy(out, s.products)
	return out
}

func (s *Sim) handleCatalog(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.products)
}
