package mqtt

import (
	"errors"
	"fmt"
)

// ErrInvalidShareGroup is returned for a shared-subscription group name
// that no broker would accept.
var ErrInvalidShareGroup = errors.New("mqtt: invalid shared subscription group")

// maxShareGroupLen bounds a group name; brokers accept far longer, but a
// group is a short operator-chosen word.
const maxShareGroupLen = 64

// CheckShareGroup reports whether group can name an MQTT 5 shared
// subscription ("$share/{group}/{filter}"): 1–64 ASCII letters, digits,
// '.', '_' and '-'. MQTT 5 forbids '/', '+' and '#' in the share name
// [MQTT-4.8.2-2]; the rest is kept out so that the name reads the same in
// every broker's configuration and logs.
func CheckShareGroup(group string) error {
	if group == "" || len(group) > maxShareGroupLen {
		return fmt.Errorf("%w: %q must be 1-%d characters", ErrInvalidShareGroup, group, maxShareGroupLen)
	}
	for i := 0; i < len(group); i++ {
		c := group[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("%w: %q contains %q (letters, digits, '.', '_' and '-' only)", ErrInvalidShareGroup, group, c)
		}
	}
	return nil
}

// SharedFilter returns the shared subscription of group to kind k of every
// lock, e.g. "$share/dooros/dooros/v1/locks/+/ack": the broker hands each
// matching message to one subscriber of the group instead of to all.
func SharedFilter(group string, k Kind) (string, error) {
	if err := CheckShareGroup(group); err != nil {
		return "", err
	}
	if !k.valid() {
		return "", fmt.Errorf("%w: unknown kind %q", ErrInvalidTopic, k)
	}
	return "$share/" + group + "/" + Filter(k), nil
}
