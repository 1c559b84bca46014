package lockproto

import (
	"bytes"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeUnix
	var err error
	if encMode, err = eo.EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   12,
		MaxArrayElements:  1 << 17,
		MaxMapPairs:       1 << 17,
		UTF8:              cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func marshal(v any) ([]byte, error) {
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("lockproto: encode: %w", err)
	}
	return b, nil
}

// unmarshal decodes exactly one CBOR item; trailing bytes are an error. The
// item must also be exactly what this package would have encoded for the
// decoded value (core deterministic encoding). The decoder alone would take a
// time given as a float (1.7e9) or as RFC 3339 text, a non-shortest integer,
// unsorted keys or an explicit zero field: none of these are the signer's
// bytes as the protocol defines them, and accepting them lets two parsers
// disagree about a signed message. Re-encoding is the one check that covers
// every such form, field by field, whatever the message type.
func unmarshal(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	again, err := encMode.Marshal(v)
	if err != nil || !bytes.Equal(again, data) {
		// A message of another format version differs in its fields too:
		// say so, rather than call it malformed.
		if ver, ok := peekVersion(data); ok && ver != Version {
			return VersionError(ver)
		}
		return fmt.Errorf("%w: not in the protocol's encoding (integer times, deterministic CBOR)", ErrMalformed)
	}
	return nil
}

// peekVersion reads the format version (map key 0) of a message that did
// not decode as this version's.
func peekVersion(data []byte) (int, bool) {
	var m map[int]any
	if cbor.Unmarshal(data, &m) != nil {
		return 0, false
	}
	v, ok := m[0].(uint64)
	return int(v), ok && v < 256
}

func checkVersion(v uint8) error {
	if v != Version {
		return VersionError(int(v))
	}
	return nil
}

// VersionError is the clear refusal of a message in another format version:
// v1 peers are told to update rather than left to guess.
func VersionError(v int) error {
	if v < Version {
		return fmt.Errorf("%w: format version %d is no longer accepted, this side speaks %d (update the app or re-provision the lock)", ErrVersion, v, Version)
	}
	return fmt.Errorf("%w: format version %d is newer than this side's %d", ErrVersion, v, Version)
}
