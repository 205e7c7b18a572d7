package main

import (
	"log/slog"

	"erpgate/erp"
	"erpgate/erp/erpv1"
)

func newV1Adapter(url string, opt *options, log *slog.Logger) (erp.Adapter, error) {
	return erpv1.New(erpv1.Config{URL: url, CallTimeout: opt.erpTimeout, Logger: log.With("target", erp.V1)})
}
