package lockproto_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/dooros/dooros/lockproto"
)

const ctxManifest = "application/dooros-bundle-manifest+cbor; v=2"

// signManifest signs any manifest, well-formed or not, as a holder of the
// property key could: every field the lock reads is checked after the
// signature, so a cloud bug cannot make a lock trust a bad one.
func signManifest(t *testing.T, priv ed25519.PrivateKey, m lockproto.BundleManifest) []byte {
	t.Helper()
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := em.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, priv)
	if err != nil {
		t.Fatal(err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmEdDSA)
	msg.Headers.Protected[cose.HeaderLabelContentType] = ctxManifest
	msg.Payload = payload
	if err := msg.Sign(nil, []byte(ctxManifest), signer); err != nil {
		t.Fatal(err)
	}
	out, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sealedFor(t *testing.T, priv ed25519.PrivateKey, keys *lockproto.LockKeys, n int) []byte {
	t.Helper()
	b := lockproto.Bundle{LockID: keys.LockID, Version: 3, Snapshot: true, TrustedTime: time.Unix(1_780_000_000, 0)}
	for i := range n {
		b.Doorcodes = append(b.Doorcodes, lockproto.DoorcodeEntry{Code: "1234" + string(rune('0'+i%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i/100%10)), PersonID: "p"})
	}
	sealed, err := lockproto.SealBundle(priv, keys.Symmetric, b)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

func TestManifestRoundTrip(t *testing.T) {
	pub, priv, _ := lockproto.NewPropertyKey()
	keys, _ := lockproto.NewLockKeys("lock-m")
	sealed := sealedFor(t, priv, keys, 600)
	signed, err := lockproto.SignBundleManifest(priv, sealed, lockproto.MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := lockproto.SignBundleManifest(priv, sealed, lockproto.MinChunkSize)
	if !bytes.Equal(signed, again) {
		t.Fatal("the same bundle got two manifests: couriers could not resume each other")
	}
	m, err := lockproto.OpenBundleManifest(pub, "lock-m", signed)
	if err != nil {
		t.Fatal(err)
	}
	if int(m.Length) != len(sealed) || m.Version != 3 || !m.Snapshot || len(m.Chunks) != lockproto.ChunkCount(len(sealed), lockproto.MinChunkSize) {
		t.Fatalf("manifest %+v for %d bytes", m, len(sealed))
	}
	for i := range m.Chunks {
		off := i * int(m.ChunkSize)
		if err := m.CheckChunk(i, sealed[off:off+m.ChunkLen(i)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.CheckChunk(len(m.Chunks), []byte{1}); !errors.Is(err, lockproto.ErrChunk) {
		t.Fatalf("chunk past the end: %v", err)
	}
	for _, cs := range []int{0, lockproto.MinChunkSize - 1, lockproto.MaxChunkSize + 1} {
		if _, err := lockproto.SignBundleManifest(priv, sealed, cs); !errors.Is(err, lockproto.ErrMalformed) {
			t.Fatalf("chunk size %d: %v", cs, err)
		}
	}
	if _, err := lockproto.SignBundleManifest(priv, []byte("not a bundle"), lockproto.DefaultChunkSize); err == nil {
		t.Fatal("manifest of junk signed")
	}
}

// TestManifestBadFields: every field of a manifest, wrong, under a valid
// signature, is refused with a clear error.
func TestManifestBadFields(t *testing.T) {
	pub, priv, _ := lockproto.NewPropertyKey()
	keys, _ := lockproto.NewLockKeys("lock-m")
	sealed := sealedFor(t, priv, keys, 300)
	good, err := lockproto.ReadBundleManifest(must(lockproto.SignBundleManifest(priv, sealed, lockproto.MinChunkSize)))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("x"))
	cases := []struct {
		name   string
		edit   func(m *lockproto.BundleManifest)
		sentry error
	}{
		{"format version", func(m *lockproto.BundleManifest) { m.V = 1 }, lockproto.ErrVersion},
		{"empty lock id", func(m *lockproto.BundleManifest) { m.LockID = "" }, lockproto.ErrMalformed},
		{"another lock", func(m *lockproto.BundleManifest) { m.LockID = "lock-n" }, lockproto.ErrWrongLock},
		{"version 0", func(m *lockproto.BundleManifest) { m.Version = 0 }, lockproto.ErrMalformed},
		{"snapshot with a base", func(m *lockproto.BundleManifest) { m.Base = 1 }, lockproto.ErrMalformed},
		{"delta backwards", func(m *lockproto.BundleManifest) { m.Snapshot, m.Base = false, 3 }, lockproto.ErrMalformed},
		{"length 0", func(m *lockproto.BundleManifest) { m.Length = 0 }, lockproto.ErrMalformed},
		{"length over the bundle limit", func(m *lockproto.BundleManifest) { m.Length = lockproto.MaxBundleSize + 1 }, lockproto.ErrMalformed},
		{"length not the chunks'", func(m *lockproto.BundleManifest) { m.Length += uint32(m.ChunkSize) }, lockproto.ErrMalformed},
		{"chunk size too small", func(m *lockproto.BundleManifest) { m.ChunkSize = lockproto.MinChunkSize - 1 }, lockproto.ErrMalformed},
		{"chunk size too large", func(m *lockproto.BundleManifest) { m.ChunkSize = lockproto.MaxChunkSize + 1 }, lockproto.ErrMalformed},
		{"short digest", func(m *lockproto.BundleManifest) { m.Digest = m.Digest[:16] }, lockproto.ErrMalformed},
		{"missing chunk hash", func(m *lockproto.BundleManifest) { m.Chunks = m.Chunks[1:] }, lockproto.ErrMalformed},
		{"extra chunk hash", func(m *lockproto.BundleManifest) { m.Chunks = append(m.Chunks, h[:]) }, lockproto.ErrMalformed},
		{"short chunk hash", func(m *lockproto.BundleManifest) { m.Chunks[1] = m.Chunks[1][:31] }, lockproto.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := *good
			m.Chunks = append([][]byte(nil), good.Chunks...)
			c.edit(&m)
			_, err := lockproto.OpenBundleManifest(pub, "lock-m", signManifest(t, priv, m))
			if !errors.Is(err, c.sentry) {
				t.Fatalf("%s: %v, want %v", c.name, err, c.sentry)
			}
		})
	}
	// The same manifest, unaltered, signed the same way, is accepted: the
	// refusals above are for the fields.
	if _, err := lockproto.OpenBundleManifest(pub, "lock-m", signManifest(t, priv, *good)); err != nil {
		t.Fatal(err)
	}
	// Another signature context: a bundle's signature is not a manifest's.
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := lockproto.OpenBundleManifest(other, "lock-m", signManifest(t, priv, *good)); !errors.Is(err, lockproto.ErrSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := lockproto.OpenBundleManifest(pub, "lock-m", make([]byte, lockproto.MaxManifestSize+1)); !errors.Is(err, lockproto.ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}

func TestChunkAndStatusDecoding(t *testing.T) {
	id := make([]byte, lockproto.TransferIDSize)
	if _, _, _, err := lockproto.DecodeChunk(id[:10]); !errors.Is(err, lockproto.ErrMalformed) {
		t.Fatalf("short chunk: %v", err)
	}
	if _, _, _, err := lockproto.DecodeChunk(lockproto.EncodeChunk(id, 1, nil)); !errors.Is(err, lockproto.ErrMalformed) {
		t.Fatalf("empty chunk: %v", err)
	}
	if _, _, _, err := lockproto.DecodeChunk(lockproto.EncodeChunk(id, 1, make([]byte, lockproto.MaxChunkSize+1))); !errors.Is(err, lockproto.ErrTooLarge) {
		t.Fatalf("oversized chunk: %v", err)
	}
	gotID, idx, data, err := lockproto.DecodeChunk(lockproto.EncodeChunk(id, 7, []byte("abc")))
	if err != nil || idx != 7 || string(data) != "abc" || !bytes.Equal(gotID, id) {
		t.Fatalf("round trip: %v %d %q", err, idx, data)
	}
	enc := func(s lockproto.TransferStatus) []byte { return must((&s).Encode()) }
	for name, body := range map[string][]byte{
		"short digest":  enc(lockproto.TransferStatus{V: lockproto.Version, Digest: id[:5], Next: 1, Chunks: 2}),
		"next past end": enc(lockproto.TransferStatus{V: lockproto.Version, Digest: id, Next: 3, Chunks: 2}),
		"version":       enc(lockproto.TransferStatus{V: 1, Digest: id, Next: 1, Chunks: 2}),
		"junk":          []byte{0xff},
	} {
		if _, err := lockproto.DecodeTransferStatus(body); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
	if st, err := lockproto.DecodeTransferStatus(enc(lockproto.TransferStatus{V: lockproto.Version, Digest: id, Next: 1, Chunks: 2})); err != nil || st.Next != 1 {
		t.Fatalf("good status: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
