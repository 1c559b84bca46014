package lockproto

import (
	"crypto/ed25519"
	"fmt"

	"github.com/veraison/go-cose"
)

// Each signed message type has its own context. It is both the COSE content
// type and the external AAD, so a signature made for one type (say an event
// batch signed by the lock) can never be presented as another (say an ack).
const (
	ctxCredential = "application/dooros-credential+cbor; v=1"
	ctxBundle     = "application/dooros-bundle+cbor; v=1"
	ctxAck        = "application/dooros-ack+cbor; v=1"
	ctxEventBatch = "application/dooros-events+cbor; v=1"
)

// Size ceilings applied before any parsing, so a hostile sender cannot make a
// lock allocate for a message it will refuse anyway.
const (
	MaxCredentialSize = 8 << 10
	MaxBundleSize     = 4 << 20
	MaxAckSize        = 4 << 10
	MaxEventBatchSize = 512 << 10
)

func sign1(priv ed25519.PrivateKey, context string, payload []byte) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("lockproto: signing key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, priv)
	if err != nil {
		return nil, fmt.Errorf("lockproto: %w", err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmEdDSA)
	msg.Headers.Protected[cose.HeaderLabelContentType] = context
	msg.Payload = payload
	// EdDSA is deterministic; no randomness is read.
	if err := msg.Sign(nil, []byte(context), signer); err != nil {
		return nil, fmt.Errorf("lockproto: sign: %w", err)
	}
	return msg.MarshalCBOR()
}

// verify1 returns the payload of a COSE_Sign1 message only if it is signed by
// pub for exactly this context and carries nothing unsigned.
func verify1(pub ed25519.PublicKey, context string, data []byte, maxSize int) ([]byte, error) {
	if len(data) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: verification key has %d bytes", ErrSignature, len(pub))
	}
	var msg cose.Sign1Message
	if err := msg.UnmarshalCBOR(data); err != nil {
		return nil, fmt.Errorf("%w: cose: %v", ErrMalformed, err)
	}
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil || alg != cose.AlgorithmEdDSA {
		return nil, fmt.Errorf("%w: algorithm is not EdDSA", ErrSignature)
	}
	if ct, ok := msg.Headers.Protected[cose.HeaderLabelContentType].(string); !ok || ct != context {
		return nil, fmt.Errorf("%w: content type is not %q", ErrMalformed, context)
	}
	// Unprotected headers are not covered by the signature; a message that
	// carries any is not what the signer produced.
	if len(msg.Headers.Protected) != 2 || len(msg.Headers.Unprotected) != 0 {
		return nil, fmt.Errorf("%w: unexpected headers", ErrMalformed)
	}
	verifier, err := cose.NewVerifier(cose.AlgorithmEdDSA, pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if err := msg.Verify([]byte(context), verifier); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return msg.Payload, nil
}
