package lockproto

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Secure keycards (simulated, in the manner of MIFARE DESFire EV3 with
// diversified AES keys, NXP AN10922): each card holds its own key
// K_card = KDF(property card master key, serial). The cloud keeps the
// master key; a lock receives, in its sealed bundle, only the keys of the
// cards that open it. At a tap the lock sends a fresh random challenge and
// the card answers with a MAC over (lock id, challenge, serial) under
// K_card, so a serial read from the log or the air is not enough to open.
//
// The simulation uses HMAC-SHA-256 both to diversify and to answer; a real
// DESFire uses AES-CMAC and a three-pass mutual authentication.
const (
	CardKeySize       = 16
	CardMasterKeySize = 32
	CardNonceSize     = 16
	CardMACSize       = 16
	// MaxCardMessageSize bounds a card radio message before parsing.
	MaxCardMessageSize = 256
	// MaxCardSerial is the longest serial a bundle entry may carry.
	MaxCardSerial = 64
)

// ErrCardAuth is a card that did not prove it holds its key.
var ErrCardAuth = errors.New("card authentication failed")

// CardKey diversifies the property's card master key for one card serial.
func CardKey(master []byte, serial string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("dooros-card-key\x00"))
	m.Write([]byte(serial))
	return m.Sum(nil)[:CardKeySize]
}

// NewCardMasterKey makes a property's card master key.
func NewCardMasterKey() ([]byte, error) {
	k := make([]byte, CardMasterKeySize)
	_, err := rand.Read(k)
	return k, err
}

// CardChallenge is what the lock sends a secure card in its field.
type CardChallenge struct {
	V      uint8  `cbor:"0,keyasint"`
	LockID string `cbor:"1,keyasint"`
	Nonce  []byte `cbor:"2,keyasint"`
}

// CardResponse is the card's answer.
type CardResponse struct {
	V      uint8  `cbor:"0,keyasint"`
	Serial string `cbor:"1,keyasint"`
	Nonce  []byte `cbor:"2,keyasint"`
	MAC    []byte `cbor:"3,keyasint"`
}

// NewCardChallenge makes a fresh challenge from lockID.
func NewCardChallenge(lockID string) (*CardChallenge, error) {
	c := &CardChallenge{V: Version, LockID: lockID, Nonce: make([]byte, CardNonceSize)}
	if _, err := rand.Read(c.Nonce); err != nil {
		return nil, err
	}
	return c, nil
}

// Encode returns the challenge's wire bytes.
func (c *CardChallenge) Encode() ([]byte, error) { return marshal(c) }

// DecodeCardChallenge is the card's strict decoder of what a reader sent.
func DecodeCardChallenge(b []byte) (*CardChallenge, error) {
	if len(b) > MaxCardMessageSize {
		return nil, fmt.Errorf("%w: card challenge of %d bytes", ErrTooLarge, len(b))
	}
	var c CardChallenge
	if err := unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("card challenge: %w", err)
	}
	if err := checkVersion(c.V); err != nil {
		return nil, err
	}
	if c.LockID == "" || len(c.Nonce) != CardNonceSize {
		return nil, fmt.Errorf("%w: card challenge", ErrMalformed)
	}
	return &c, nil
}

// Encode returns the response's wire bytes.
func (r *CardResponse) Encode() ([]byte, error) { return marshal(r) }

// DecodeCardResponse is the lock's strict decoder of a card's answer.
func DecodeCardResponse(b []byte) (*CardResponse, error) {
	if len(b) > MaxCardMessageSize {
		return nil, fmt.Errorf("%w: card response of %d bytes", ErrTooLarge, len(b))
	}
	var r CardResponse
	if err := unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("card response: %w", err)
	}
	if err := checkVersion(r.V); err != nil {
		return nil, err
	}
	if r.Serial == "" || len(r.Serial) > MaxCardSerial || len(r.Nonce) != CardNonceSize || len(r.MAC) != CardMACSize {
		return nil, fmt.Errorf("%w: card response", ErrMalformed)
	}
	return &r, nil
}

func cardMAC(key []byte, lockID string, nonce []byte, serial string) []byte {
	msg, err := marshal(&[]any{"dooros-card", Version, lockID, nonce, serial})
	if err != nil {
		panic(err) // plain values: cannot fail
	}
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)[:CardMACSize]
}

// VerifyCardResponse checks that resp answers challenge ch for the card
// with this serial and key: same nonce, same serial, and a MAC only the
// holder of key can make.
func VerifyCardResponse(key []byte, ch *CardChallenge, serial string, resp []byte) error {
	r, err := DecodeCardResponse(resp)
	if err != nil {
		return err
	}
	if r.Serial != serial || !hmac.Equal(r.Nonce, ch.Nonce) ||
		!hmac.Equal(r.MAC, cardMAC(key, ch.LockID, ch.Nonce, serial)) {
		return ErrCardAuth
	}
	return nil
}

// SimCard is a simulated card in a reader's field: a serial (UID) and, for
// a secure card, its diversified key. A serial-only card has no key and
// answers no challenge: anyone who learns the serial can clone it.
type SimCard struct {
	UID string
	Key []byte
}

// Serial returns the card's UID, which any reader (or eavesdropper) sees.
func (c SimCard) Serial() string { return c.UID }

// Respond answers a reader's challenge.
func (c SimCard) Respond(challenge []byte) ([]byte, error) {
	if len(c.Key) == 0 {
		return nil, fmt.Errorf("%w: serial-only card", ErrCardAuth)
	}
	ch, err := DecodeCardChallenge(challenge)
	if err != nil {
		return nil, err
	}
	r := CardResponse{V: Version, Serial: c.UID, Nonce: ch.Nonce, MAC: cardMAC(c.Key, ch.LockID, ch.Nonce, c.UID)}
	return r.Encode()
}
