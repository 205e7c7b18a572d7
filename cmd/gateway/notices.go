package main

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"erpgate/erp"
	"erpgate/feedback"
	"erpgate/notice"
	"erpgate/store"
	"erpgate/tracking"
)

// noticesAndFeedback is the wiring of maintenance notices, pilot feedback
// and the FAQ.
type noticesAndFeedback struct {
	notices  *notice.Service
	feedback *feedback.Service
	faq      *store.FAQ
}

func newNoticesAndFeedback(st *store.Store, rel *store.Releases, wh *tracking.Webhooks, lead time.Duration, log *slog.Logger) noticesAndFeedback {
	ns := st.Notices()
	board := notice.NewBoard(notice.BoardConfig{Source: ns, Lead: lead, Logger: log})
	svc := notice.NewService(ns, board, announceNotice(wh, log))
	// The cached plan (*erp.PlanView) names the order's cohort and its revision.
	fb := feedback.NewService(st.Feedback(), func() feedback.Plan { return rel.View() }, nil)
	return noticesAndFeedback{notices: svc, feedback: fb, faq: st.FAQ()}
}

// announceNotice sends a notice change to the shops as a signed webhook.
func announceNotice(wh *tracking.Webhooks, log *slog.Logger) notice.Announcer {
	return func(ctx context.Context, kind string, n notice.Notice) error {
		details := map[string]string{
			"start": n.Start.UTC().Format(time.RFC3339), "end": n.End.UTC().Format(time.RFC3339),
			"intake_paused": strconv.FormatBool(n.IntakePaused), "revision": strconv.FormatInt(n.Revision, 10),
			"intake_note": n.IntakeNote("en"),
		}
		for lang, m := range n.Messages {
			details["message_"+lang] = m
		}
		shops, err := wh.AnnounceNotice(ctx, kind, n.ID, n.Message("en"), details)
		if err == nil {
			log.Info("notice announced to shops", "notice", n.ID, "event", kind, "shops", len(shops))
		}
		return err
	}
}

// The cached release plan gives feedback an order's cohort and the revision.
var _ feedback.Plan = (*erp.PlanView)(nil)
