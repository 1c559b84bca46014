package ble

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dooros/dooros/lockproto"
)

// ErrNoChunking is returned when the lock refuses the manifest message as
// unknown: its firmware predates chunked transfer. The phone does not fall
// back to one message for a bundle the cloud chose to chunk.
var ErrNoChunking = errors.New("ble: the lock does not support chunked bundle transfer; update its firmware")

// Progress is called after each step of a chunked transfer: next of total
// chunks are on the lock.
type Progress func(next, total int)

// DeliverChunked relays a sealed bundle in chunks under its signed manifest
// (lockproto.SignBundleManifest) and returns the lock's signed ack. The lock
// answers the manifest with where to resume, so calling it again on a new
// connection — by this phone or another — sends only what is missing. A
// refusal of an authentic manifest (stale, wrong base) is a *RemoteError
// carrying the ack, as from DeliverBundle.
func (s *Session) DeliverChunked(ctx context.Context, manifest, sealed []byte, progress Progress) ([]byte, error) {
	m, err := lockproto.ReadBundleManifest(manifest)
	if err != nil {
		return nil, err
	}
	if int(m.Length) != len(sealed) || !bytes.Equal(lockproto.BundleDigest(sealed), m.Digest) {
		return nil, fmt.Errorf("%w: the manifest is not the bundle's", lockproto.ErrMalformed)
	}
	if progress == nil {
		progress = func(int, int) {}
	}
	resent := false
	offer := func() (int, error) {
		body, err := s.Request(ctx, lockproto.ChanManifest, manifest, lockproto.ChanTransfer)
		var re *RemoteError
		if errors.As(err, &re) && re.Code == "malformed" {
			return 0, fmt.Errorf("%w (%s)", ErrNoChunking, re.Message)
		}
		if err != nil {
			return 0, err
		}
		st, err := lockproto.DecodeTransferStatus(body)
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(st.Digest, m.Digest) || int(st.Chunks) != len(m.Chunks) || st.Next >= st.Chunks {
			return 0, fmt.Errorf("%w: transfer status for another manifest", lockproto.ErrMalformed)
		}
		return int(st.Next), nil
	}
	next, err := offer()
	if err != nil {
		return nil, err
	}
	progress(next, len(m.Chunks))
	for {
		off := next * int(m.ChunkSize)
		chunk := sealed[off : off+m.ChunkLen(next)]
		body, err := s.requestChunk(ctx, lockproto.EncodeChunk(m.Digest, uint32(next), chunk))
		switch {
		case errors.Is(err, lockproto.ErrNoTransfer) && !resent:
			// Another phone replaced the transfer meanwhile, or the lock
			// rebooted without it: offer the manifest once more.
			resent = true
			if next, err = offer(); err != nil {
				return nil, err
			}
			progress(next, len(m.Chunks))
			continue
		case err != nil:
			return nil, err
		case body.ack != nil:
			progress(len(m.Chunks), len(m.Chunks))
			return body.ack, nil
		}
		st := body.status
		if !bytes.Equal(st.Digest, m.Digest) || int(st.Next) != next+1 || int(st.Chunks) != len(m.Chunks) || st.Next >= st.Chunks {
			return nil, fmt.Errorf("%w: transfer status %d/%d after chunk %d", lockproto.ErrMalformed, st.Next, st.Chunks, next)
		}
		next = int(st.Next)
		progress(next, len(m.Chunks))
	}
}

type chunkReply struct {
	status *lockproto.TransferStatus
	ack    []byte
}

// requestChunk sends one chunk; the reply is a status or, after the last
// chunk, the ack.
func (s *Session) requestChunk(ctx context.Context, body []byte) (chunkReply, error) {
	t, reply, err := s.request(ctx, lockproto.ChanChunk, body)
	if err != nil {
		return chunkReply{}, err
	}
	switch t {
	case lockproto.ChanAck:
		return chunkReply{ack: reply}, nil
	case lockproto.ChanTransfer:
		st, err := lockproto.DecodeTransferStatus(reply)
		return chunkReply{status: st}, err
	}
	return chunkReply{}, fmt.Errorf("%w: reply type %d to a chunk", lockproto.ErrMalformed, t)
}
