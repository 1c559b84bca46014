package domain_test

import (
	"errors"
	"fmt"
)

func errorsJoin(err error) error { return fmt.Errorf("store: %w", err) }

func errPlain(msg string) error { return errors.New(msg) }
