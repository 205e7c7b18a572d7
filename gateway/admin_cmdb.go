package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"erpgate"
	"erpgate/cmdb"
)

// The CMDB export (admin token; issue 15):
//
//	GET /admin/cmdb                        configuration items and relations (cmdb.Snapshot)
//	GET /admin/cmdb?format=servicenow      the same as the body of ServiceNow's Identification
//	                                       and Reconciliation API; &source= names the discovery
//	                                       source (default "erpgate")

// CMDB takes a snapshot of the deployment. Errors: Unavailable when it
// cannot be taken at all (a source that fails is named in the snapshot).
type CMDB interface {
	Snapshot(ctx context.Context) (cmdb.Snapshot, error)
}

// CMDBFunc adapts a function to CMDB.
type CMDBFunc func(ctx context.Context) (cmdb.Snapshot, error)

// Snapshot calls f.
func (f CMDBFunc) Snapshot(ctx context.Context) (cmdb.Snapshot, error) { return f(ctx) }

var _ CMDB = CMDBFunc(nil)

const maxSourceName = 40

func (s *Server) handleCMDB(src CMDB) echo.HandlerFunc {
	return func(c echo.Context) error {
		format := c.QueryParam("format")
		source := c.QueryParam("source")
		var ps []erpgate.Problem
		switch format {
		case "", "json", "servicenow":
		default:
			ps = append(ps, erpgate.Problem{Field: "format", Message: "json (default) or servicenow"})
		}
		if source == "" {
			source = "erpgate"
		} else if len(source) > maxSourceName || strings.Trim(source, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-. ") != "" {
			ps = append(ps, erpgate.Problem{Field: "source", Message: "1–40 of letters, digits, '_', '-', '.' and space"})
		} else if format != "servicenow" {
			ps = append(ps, erpgate.Problem{Field: "source", Message: "only with format=servicenow"})
		}
		if ps != nil {
			return &erpgate.Error{Code: erpgate.Invalid, Message: "invalid query parameters", Problems: ps}
		}
		snap, err := src.Snapshot(c.Request().Context())
		if err != nil {
			return err
		}
		noStore(c)
		if format == "servicenow" {
			ire, err := snap.ServiceNow(source)
			if err != nil {
				return erpgate.Wrap(erpgate.Internal, err, "internal error")
			}
			return c.JSON(http.StatusOK, ire)
		}
		return c.JSON(http.StatusOK, snap)
	}
}
