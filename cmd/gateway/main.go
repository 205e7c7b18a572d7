// Command gateway runs erpgate: the WebServices gateway between the online
// shop, its customers, its suppliers and the ERP.
//
// With no flags it is a complete demo system: an embedded in-memory Redis and
// the ERP simulator run in-process on loopback ports. See docs/operators.md for the
// production flags.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // shop time zones (config) on hosts without a zoneinfo database
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}
