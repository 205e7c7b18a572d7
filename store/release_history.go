package store

// The release plan's change history (release:history).

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"erpgate"
	"erpgate/erp"
)

// before (0: from the newest). Errors: Unavailable.
func (r *Releases) History(ctx context.Context, before int64, limit int) ([]erp.ReleaseChange, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	out := []erp.ReleaseChange{}
	end := "+"
	for len(out) < limit {
		xs, err := r.s.rdb.XRevRangeN(ctx, releaseHistoryKey, end, "-", int64(limit)).Result()
		if err != nil {
			return nil, unavailable(err)
		}
		for _, x := range xs {
			c, err := historyEntry(x)
			if err != nil {
				return nil, err
			}
			if before > 0 && c.Revision >= before {
				continue
			}
			out = append(out, c)
			if len(out) == limit {
				break
			}
		}
		if len(xs) < limit {
			break
		}
		end = "(" + xs[len(xs)-1].ID
	}
	return out, nil
}

func historyEntry(x redis.XMessage) (erp.ReleaseChange, error) {
	f := func(k string) string { s, _ := x.Values[k].(string); return s }
	rev, _ := strconv.ParseInt(f("rev"), 10, 64)
	c := erp.ReleaseChange{Revision: rev, Action: f("action"), Actor: f("actor"), Reason: f("reason"), At: msTime(f("at")).UTC()}
	if err := json.Unmarshal([]byte(f("plan")), &c.Plan); err != nil {
		return c, erpgate.Wrap(erpgate.Internal, fmt.Errorf("release history %s: %w", x.ID, err), "internal error")
	}
	if doc := f("approval"); doc != "" {
		c.Approval = new(erp.Approval)
		if err := json.Unmarshal([]byte(doc), c.Approval); err != nil {
			return c, erpgate.Wrap(erpgate.Internal, fmt.Errorf("release history %s: %w", x.ID, err), "internal error")
		}
	}
	if doc := f("approvals"); doc != "" {
		if err := json.Unmarshal([]byte(doc), &c.Approvals); err != nil {
			return c, erpgate.Wrap(erpgate.Internal, fmt.Errorf("release history %s: %w", x.ID, err), "internal error")
		}
	}
	return c, nil
}
