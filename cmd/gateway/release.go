package main

import (
	"context"
	"errors"
	"io"
)

// runRelease is the release-plan CLI (issue 3); not built yet.
func runRelease(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return errors.New("release: not implemented yet")
}
