package lockproto

import (
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

// unmarshal decodes exactly one CBOR item; trailing bytes are an error.
func unmarshal(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
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
