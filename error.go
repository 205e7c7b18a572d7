// Package erpgate holds what every part of the gateway shares: the one error
// type with a machine code, and the codes themselves.
//
// Domain packages (order, supply, erp, tracking) return *Error values; the edges
// (gateway for REST and SOAP) map Code to an HTTP status or a SOAP fault with one
// table each. Only errors with code Internal are logged, because only those need
// an operator.
package erpgate

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are part of the public API (problem+json "code" member and
// the SOAP fault detail), so never rename one.
const (
	Invalid             = "invalid"              // malformed input (400)
	Unprocessable       = "unprocessable"        // well-formed but fails business rules (422)
	IdempotencyMismatch = "idempotency_mismatch" // same idempotency key, different body (422)
	Conflict            = "conflict"             // state conflict, e.g. request still in flight (409)
	NotFound            = "not_found"            // absent or not yours (404)
	Unauthorized        = "unauthorized"         // missing or bad credentials (401)
	Forbidden           = "forbidden"            // authenticated but not allowed (403)
	TooLarge            = "too_large"            // body or count over an explicit limit (413)
	UnsupportedMedia    = "unsupported_media"    // wrong content type (415)
	RateLimited         = "rate_limited"         // over a rate limit (429)
	Timeout             = "timeout"              // the request was not received in time (408)
	Unavailable         = "unavailable"          // a dependency is down; retry later (503)
	Overloaded          = "overloaded"           // this instance is saturated; retry later (503)
	OutcomeUnknown      = "outcome_unknown"      // the store failed mid-write: maybe stored; retry with the same key (503)
	Internal            = "internal"             // a bug or an unexpected failure (500)

	// Release gates (issue 15): a change of the release plan refused until
	// what it needs is recorded (409).
	ApprovalRequired = "approval_required" // approvals of the current plan revision are missing
	ManifestRequired = "manifest_required" // no stored signed manifest of the version to go live
)

// Problem is one field-level finding, addressed by a JSON-pointer-like path
// such as "lines[2].unit_price".
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one error type of erpgate. Message is safe to show to clients;
// Err is the cause, for operators only.
type Error struct {
	Code     string
	Message  string
	Problems []Problem
	Err      error
	// RetryAfter, when positive, is how long the caller should wait before
	// retrying (Retry-After on HTTP answers).
	RetryAfter time.Duration
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted client-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code and message that wraps cause.
func Wrap(code string, cause error, message string) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, Internal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return Internal
	}
}

// ErrorMessage returns the client-safe message of err: the Message of the first
// *Error in its chain, or a generic text for anything else (never the cause).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorProblems returns the field-level problems of the first *Error in err's chain.
func ErrorProblems(err error) []Problem {
	var e *Error
	if errors.As(err, &e) {
		return e.Problems
	}
	return nil
}

// ErrorRetryAfter returns the RetryAfter of the first *Error in err's chain.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
