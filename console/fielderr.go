package console

import (
	"errors"

	"github.com/dooros/dooros/domain"
)

// fieldErr is a form error shown beside its field, in words: the field's
// label ("Time zone") and the rule's message, never the API's field name.
type fieldErr struct {
	Field string // the form field it belongs to ("" shows above the form)
	Label string
	Text  string
}

// Message is the error as a sentence: "Time zone … is not an IANA time
// zone".
func (e *fieldErr) Message() string {
	if e.Label == "" {
		return e.Text
	}
	return e.Label + " " + e.Text
}

// On reports whether the error belongs to field (for templates).
func (e *fieldErr) On(field string) bool { return e != nil && e.Field == field }

// labelled turns an invalid-input or conflict error into a fieldErr with
// the label of its field on this form; any other error is returned as is.
// An error about a field the form does not show goes above the form,
// labelled still.
func labelled(err error, labels map[string]string) (*fieldErr, error) {
	var de *domain.Error
	if !errors.As(err, &de) || (de.Code != domain.EInvalid && de.Code != domain.EConflict) {
		return nil, err
	}
	if de.Field == "" {
		return &fieldErr{Text: de.Message}, nil
	}
	if l, ok := labels[de.Field]; ok {
		return &fieldErr{Field: de.Field, Label: l, Text: de.Message}, nil
	}
	return &fieldErr{Text: de.Message}, nil
}
