// Package domain holds the types and rules of DOOR OS (DESIGN.md §2): what a
// person, key, grant and doorcode are, how status is derived, who may do what,
// and what a change cascades to. It does no I/O; the store applies what the
// rules decide inside one transaction.
package domain

import (
	"errors"
	"fmt"
)

// Code classifies an error for every adapter (HTTP status, console message,
// CSV row error) without the adapter knowing the rule that produced it.
type Code string

const (
	EInvalid         Code = "invalid"
	EUnauthenticated Code = "unauthenticated"
	EForbidden       Code = "forbidden"
	ENotFound        Code = "not_found"
	EConflict        Code = "conflict"
	ERateLimited     Code = "rate_limited"
	// EMethodNotAllowed: the path exists but not for this method.
	EMethodNotAllowed Code = "method_not_allowed"
	// ETimeout: a device the request waits on (a lock) did not answer.
	ETimeout  Code = "timeout"
	EInternal Code = "internal"
)

// Error is the one application error type. Field names the offending input
// field (JSON name) when there is one, so a form or CSV row can point at it.
type Error struct {
	Code    Code
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError builds an EInvalid error naming the field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an application error, EInternal otherwise.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the message safe to show a user: the application
// message, or "Internal error" for anything unexpected.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "Internal error."
}
