package lockproto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/veraison/go-cose"
)

// A bundle too large to cross a slow BLE link in one connection travels in
// chunks (docs/lock-protocol.md, "Chunked bundle transfer"). The cloud signs
// a manifest with the property key, as it signs the bundle: it binds the
// lock id, the versions, the sealed bundle's length and digest, the chunk
// size and every chunk's SHA-256. The lock verifies the manifest before it
// keeps anything, each chunk against it as it arrives, and the reassembled
// bundle with its normal verification at the end.

const ctxManifest = "application/dooros-bundle-manifest+cbor; v=2"

const (
	// ChunkThreshold: sealed bundles larger than this get a manifest and go
	// in chunks; smaller ones keep the one-message path.
	ChunkThreshold = 16 << 10
	// DefaultChunkSize is the chunk size the cloud signs: about 12 s at
	// 333 B/s, so a dropped link loses at most that much.
	DefaultChunkSize = 4 << 10
	// MinChunkSize and MaxChunkSize bound a manifest's chunk size, and so
	// the number of chunk hashes a lock has to hold.
	MinChunkSize = 1 << 10
	MaxChunkSize = 64 << 10
	// MaxManifestSize bounds a signed manifest before it is parsed.
	MaxManifestSize = (MaxBundleSize/MinChunkSize)*(sha256.Size+2) + 1024
	// TransferIDSize is the length of a chunk's transfer id (the sealed
	// bundle's digest).
	TransferIDSize = sha256.Size
)

// Errors of the chunked transfer.
var (
	// ErrChunk: a chunk that is not the next one of the manifest being
	// assembled, or whose bytes do not hash to it. Nothing received before
	// is lost.
	ErrChunk = errors.New("chunk does not match the manifest")
	// ErrNoTransfer: a chunk for a manifest the lock is not assembling
	// (another phone replaced it, or it was applied): send the manifest.
	ErrNoTransfer = errors.New("no transfer of this bundle in progress; send its manifest")
)

// BundleManifest describes one sealed bundle cut into chunks.
type BundleManifest struct {
	V         uint8    `cbor:"0,keyasint"`
	LockID    string   `cbor:"1,keyasint"`
	Base      uint64   `cbor:"2,keyasint"`
	Version   uint64   `cbor:"3,keyasint"`
	Snapshot  bool     `cbor:"4,keyasint"`
	Length    uint32   `cbor:"5,keyasint"` // bytes of the sealed bundle
	ChunkSize uint32   `cbor:"6,keyasint"`
	Digest    []byte   `cbor:"7,keyasint"` // BundleDigest of the sealed bundle: the transfer's id
	Chunks    [][]byte `cbor:"8,keyasint"` // SHA-256 of each chunk, in order
}

// ChunkCount is how many chunks a bundle of length bytes has.
func ChunkCount(length, chunkSize int) int { return (length + chunkSize - 1) / chunkSize }

func (m *BundleManifest) validate() error {
	if err := checkVersion(m.V); err != nil {
		return err
	}
	switch {
	case m.LockID == "":
		return fmt.Errorf("%w: manifest: lock id is required", ErrMalformed)
	case m.Version == 0:
		return fmt.Errorf("%w: manifest: version must be positive", ErrMalformed)
	case m.Snapshot && m.Base != 0, !m.Snapshot && m.Base >= m.Version:
		return fmt.Errorf("%w: manifest: base %d and version %d", ErrMalformed, m.Base, m.Version)
	case m.Length == 0 || m.Length > MaxBundleSize:
		return fmt.Errorf("%w: manifest: length %d outside 1..%d", ErrMalformed, m.Length, MaxBundleSize)
	case m.ChunkSize < MinChunkSize || m.ChunkSize > MaxChunkSize:
		return fmt.Errorf("%w: manifest: chunk size %d outside %d..%d", ErrMalformed, m.ChunkSize, MinChunkSize, MaxChunkSize)
	case len(m.Digest) != sha256.Size:
		return fmt.Errorf("%w: manifest: digest of %d bytes", ErrMalformed, len(m.Digest))
	case len(m.Chunks) != ChunkCount(int(m.Length), int(m.ChunkSize)):
		return fmt.Errorf("%w: manifest: %d chunk hashes for %d bytes in chunks of %d", ErrMalformed, len(m.Chunks), m.Length, m.ChunkSize)
	}
	for i, h := range m.Chunks {
		if len(h) != sha256.Size {
			return fmt.Errorf("%w: manifest: chunk %d hash of %d bytes", ErrMalformed, i, len(h))
		}
	}
	return nil
}

// ChunkLen is the length of chunk i (the last one may be short).
func (m *BundleManifest) ChunkLen(i int) int {
	return min(int(m.ChunkSize), int(m.Length)-i*int(m.ChunkSize))
}

// CheckChunk verifies chunk i's bytes against the manifest.
func (m *BundleManifest) CheckChunk(i int, data []byte) error {
	if i < 0 || i >= len(m.Chunks) {
		return fmt.Errorf("%w: chunk %d of %d", ErrChunk, i, len(m.Chunks))
	}
	if len(data) != m.ChunkLen(i) {
		return fmt.Errorf("%w: chunk %d has %d bytes, want %d", ErrChunk, i, len(data), m.ChunkLen(i))
	}
	if h := sha256.Sum256(data); !bytes.Equal(h[:], m.Chunks[i]) {
		return fmt.Errorf("%w: chunk %d hash", ErrChunk, i)
	}
	return nil
}

// SignBundleManifest cuts a sealed bundle into chunks of chunkSize and
// signs their manifest with the property key that signed the bundle. Ed25519
// is deterministic: the same bundle always gets the same manifest, so every
// courier of it carries the same transfer.
func SignBundleManifest(propertyKey ed25519.PrivateKey, sealed []byte, chunkSize int) ([]byte, error) {
	if chunkSize < MinChunkSize || chunkSize > MaxChunkSize {
		return nil, fmt.Errorf("%w: manifest: chunk size %d outside %d..%d", ErrMalformed, chunkSize, MinChunkSize, MaxChunkSize)
	}
	h, err := ReadBundleHeader(sealed)
	if err != nil {
		return nil, err
	}
	m := BundleManifest{V: Version, LockID: h.LockID, Base: h.Base, Version: h.Version, Snapshot: h.Snapshot,
		Length: uint32(len(sealed)), ChunkSize: uint32(chunkSize), Digest: BundleDigest(sealed)}
	for off := 0; off < len(sealed); off += chunkSize {
		s := sha256.Sum256(sealed[off:min(off+chunkSize, len(sealed))])
		m.Chunks = append(m.Chunks, s[:])
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	payload, err := marshal(&m)
	if err != nil {
		return nil, err
	}
	return sign1(propertyKey, ctxManifest, payload)
}

// OpenBundleManifest verifies a signed manifest with the property key and
// checks it is addressed to lockID.
func OpenBundleManifest(propertyPub ed25519.PublicKey, lockID string, signed []byte) (*BundleManifest, error) {
	payload, err := verify1(propertyPub, ctxManifest, signed, MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var m BundleManifest
	if err := unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	if m.LockID != lockID {
		return nil, fmt.Errorf("%w: manifest for %q", ErrWrongLock, m.LockID)
	}
	return &m, nil
}

// ReadBundleManifest decodes a signed manifest without verifying it, for a
// phone that routes and cuts the bundle; nothing in it is trustworthy.
func ReadBundleManifest(signed []byte) (*BundleManifest, error) {
	payload, err := peek1(signed, MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var m BundleManifest
	if err := unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// EncodeChunk frames chunk index of the transfer id (the manifest's Digest)
// for ChanChunk.
func EncodeChunk(id []byte, index uint32, data []byte) []byte {
	out := make([]byte, 0, TransferIDSize+4+len(data))
	out = append(out, id...)
	out = binary.BigEndian.AppendUint32(out, index)
	return append(out, data...)
}

// DecodeChunk splits a ChanChunk body.
func DecodeChunk(body []byte) (id []byte, index uint32, data []byte, err error) {
	if len(body) < TransferIDSize+4+1 {
		return nil, 0, nil, fmt.Errorf("%w: chunk of %d bytes", ErrMalformed, len(body))
	}
	if len(body) > TransferIDSize+4+MaxChunkSize {
		return nil, 0, nil, fmt.Errorf("%w: chunk of %d bytes", ErrTooLarge, len(body))
	}
	return body[:TransferIDSize], binary.BigEndian.Uint32(body[TransferIDSize:]), body[TransferIDSize+4:], nil
}

// TransferStatus is the lock's answer to a manifest or a chunk: the next
// chunk it wants (Next == Chunks only after the bundle was applied, in
// which case the reply is an ack instead).
type TransferStatus struct {
	V      uint8  `cbor:"0,keyasint"`
	Digest []byte `cbor:"1,keyasint"`
	Next   uint32 `cbor:"2,keyasint"`
	Chunks uint32 `cbor:"3,keyasint"`
}

// Encode serialises the status.
func (t *TransferStatus) Encode() ([]byte, error) { return marshal(t) }

// DecodeTransferStatus parses a lock's transfer status.
func DecodeTransferStatus(body []byte) (*TransferStatus, error) {
	var t TransferStatus
	if err := unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("transfer status: %w", err)
	}
	if err := checkVersion(t.V); err != nil {
		return nil, err
	}
	if len(t.Digest) != TransferIDSize || t.Next > t.Chunks {
		return nil, fmt.Errorf("%w: transfer status", ErrMalformed)
	}
	return &t, nil
}

// peek1 returns a COSE_Sign1 message's payload without verifying it.
func peek1(data []byte, maxSize int) ([]byte, error) {
	if len(data) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(data); err != nil {
		return nil, fmt.Errorf("%w: cose: %v", ErrMalformed, err)
	}
	return msg.Payload, nil
}
