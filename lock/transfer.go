package lock

import (
	"bytes"
	"fmt"

	"github.com/dooros/dooros/lockproto"
)

// A bundle too large for one BLE connection arrives in chunks
// (docs/lock-protocol.md, "Chunked bundle transfer"): first the manifest
// the cloud signed with the property key, then its chunks in order, each
// checked against the manifest as it arrives and appended to flash, so a
// dropped link, a lock reboot or another phone resumes where the last one
// stopped. The lock assembles one manifest at a time; the whole bundle
// is then applied as if it had come in one message.

const (
	transferPrefix   = "transfer."
	transferManifest = "transfer.manifest"
	transferData     = "transfer.data"
)

type transfer struct {
	m      *lockproto.BundleManifest
	signed []byte
	data   []byte // the verified chunks received so far
	next   int    // the next chunk wanted
}

func (t *transfer) status() []byte {
	b, err := (&lockproto.TransferStatus{V: lockproto.Version, Digest: t.m.Digest, Next: uint32(t.next), Chunks: uint32(len(t.m.Chunks))}).Encode()
	if err != nil {
		panic(err) // plain fields: cannot fail
	}
	return b
}

// loadTransfer reads the transfer left on flash, keeping only the chunks
// that still verify against a manifest the lock still trusts: a power cut
// in the middle of an append leaves a prefix, which is cut off here.
func (l *Lock) loadTransfer() {
	if l.xferLoaded {
		return
	}
	l.xferLoaded = true
	signed, err := l.opts.FS.ReadFile(transferManifest)
	if err != nil || len(signed) == 0 {
		return
	}
	m, err := lockproto.OpenBundleManifest(l.keys.propertyPub, l.prov.LockID, signed)
	if err != nil || m.Version <= l.st.Version {
		l.clearTransfer()
		return
	}
	t := &transfer{m: m, signed: signed}
	data, _ := l.opts.FS.ReadFile(transferData)
	for t.next < len(m.Chunks) {
		off, n := t.next*int(m.ChunkSize), m.ChunkLen(t.next)
		if off+n > len(data) || m.CheckChunk(t.next, data[off:off+n]) != nil {
			break
		}
		t.next++
	}
	t.data = data[:min(len(data), t.next*int(m.ChunkSize))]
	if len(t.data) != len(data) {
		if err := l.opts.FS.WriteFile(transferData, t.data); err != nil {
			l.log.Error("transfer: flash write failed", "err", err)
			l.clearTransfer()
			return
		}
	}
	l.xfer = t
	l.log.Info("transfer resumed from flash", "version", m.Version, "chunk", t.next, "of", len(m.Chunks))
}

func (l *Lock) clearTransfer() {
	l.xfer = nil
	// The manifest first: without it the data is never read.
	if err := l.opts.FS.WriteFile(transferManifest, nil); err != nil {
		l.log.Error("transfer: flash write failed", "err", err)
	}
	if err := l.opts.FS.WriteFile(transferData, nil); err != nil {
		l.log.Error("transfer: flash write failed", "err", err)
	}
}

// OfferManifest starts or resumes the chunked transfer of a bundle and
// returns the lock's TransferStatus: the chunk to send next. A manifest
// that is not the cloud's, is for another lock or cannot apply (stale
// version, wrong base) is refused before any chunk is sent; an authentic
// one that cannot apply is still acknowledged, as ApplyBundle does.
func (l *Lock) OfferManifest(signed []byte) (status, ack []byte, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loadTransfer()
	m, err := lockproto.OpenBundleManifest(l.keys.propertyPub, l.prov.LockID, signed)
	if err != nil {
		l.refuseBundle(lockproto.ErrorCode(err), 0, err)
		return nil, nil, err
	}
	a := lockproto.Ack{LockID: l.prov.LockID, Bundle: m.Digest}
	if a.Status, err = l.checkVersion(m.Version, m.Base, m.Snapshot); err != nil {
		return nil, l.signAck(a), err
	}
	if t := l.xfer; t != nil {
		if bytes.Equal(t.m.Digest, m.Digest) {
			return t.status(), nil, nil // resume
		}
		if m.Version < t.m.Version {
			// Another courier brought a newer bundle: an older one may not
			// throw its chunks away.
			return nil, nil, fmt.Errorf("%w: bundle version %d, the lock is receiving version %d", lockproto.ErrStale, m.Version, t.m.Version)
		}
	}
	// A newer (or same-version, re-sealed) bundle replaces the one being
	// assembled: the cloud signed it later. Data first, then the manifest
	// that makes it count.
	err = l.opts.FS.WriteFile(transferData, nil)
	if err == nil {
		err = l.opts.FS.WriteFile(transferManifest, signed)
	}
	if err != nil {
		l.log.Error("transfer: flash write failed", "err", err)
		l.xfer = nil
		return nil, nil, fmt.Errorf("%w: %v", lockproto.ErrInternal, err)
	}
	l.xfer = &transfer{m: m, signed: bytes.Clone(signed), data: make([]byte, 0, m.Length)}
	l.log.Info("transfer started", "version", m.Version, "bytes", m.Length, "chunks", len(m.Chunks))
	return l.xfer.status(), nil, nil
}

// OfferChunk takes the next chunk of the transfer in progress. It returns
// the TransferStatus, or, after the last chunk, the ack of the applied
// bundle (done). A chunk that does not match the manifest is refused and
// nothing received before it is lost; a chunk of another transfer gets
// ErrNoTransfer.
func (l *Lock) OfferChunk(body []byte) (status, ack []byte, done bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loadTransfer()
	id, index, data, err := lockproto.DecodeChunk(body)
	if err != nil {
		return nil, nil, false, err
	}
	t := l.xfer
	if t == nil || !bytes.Equal(id, t.m.Digest) {
		return nil, nil, false, lockproto.ErrNoTransfer
	}
	switch {
	case int(index) < t.next:
		return t.status(), nil, false, nil // a repeat after a lost reply
	case int(index) > t.next:
		return nil, nil, false, fmt.Errorf("%w: chunk %d, the lock wants %d", lockproto.ErrChunk, index, t.next)
	}
	if err := t.m.CheckChunk(int(index), data); err != nil {
		l.log.Warn("transfer: chunk refused", "chunk", index, "err", err)
		return nil, nil, false, err
	}
	if err := l.opts.FS.AppendFile(transferData, data); err != nil {
		// Whatever part reached flash is cut off at the next load.
		l.log.Error("transfer: flash write failed", "err", err)
		l.xferLoaded = false
		l.xfer = nil
		return nil, nil, false, fmt.Errorf("%w: %v", lockproto.ErrInternal, err)
	}
	t.data = append(t.data, data...)
	t.next++
	if t.next < len(t.m.Chunks) {
		return t.status(), nil, false, nil
	}
	sealed := t.data
	l.clearTransfer()
	if !bytes.Equal(lockproto.BundleDigest(sealed), t.m.Digest) {
		return nil, nil, false, fmt.Errorf("%w: reassembled bundle digest", lockproto.ErrChunk) // chunks all matched: only a broken manifest
	}
	ack, err = l.applyBundle(sealed)
	return nil, ack, true, err
}
