package lock

import "github.com/dooros/dooros/lockproto"

// ReasonCardAuth is a card whose entry has a key but which did not answer
// the lock's challenge with it: a clone made from a serial read off the log
// or the air.
const ReasonCardAuth = "card_auth_failed"

// Card is a card in the reader's field. Serial is what any reader sees;
// Respond is the radio exchange of a secure card (lockproto.SimCard is the
// simulated one).
type Card interface {
	Serial() string
	Respond(challenge []byte) ([]byte, error)
}

// TapCard decides a tap of a serial-only card: a card that answers no
// challenge. A serial whose bundle entry carries a key is refused this way.
func (l *Lock) TapCard(serial string) (Decision, error) {
	return l.PresentCard(lockproto.SimCard{UID: serial})
}

// PresentCard decides a card tap: known serial; for a secure card (its
// entry carries a diversified key) a fresh challenge the card must answer
// with that key; then the entry's window and schedule.
func (l *Lock) PresentCard(c Card) (Decision, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	serial := c.Serial()
	d := Decision{Credential: "keycard", Ref: serial}
	e, ok := l.idx.cards[serial]
	switch {
	case !ok:
		d.Reason = ReasonUnknownCard
	case len(e.Key) > 0 && !l.cardAnswers(c, e):
		d.PersonID, d.Reason = e.PersonID, ReasonCardAuth
	case l.suspended(e.PersonID, l.now()) || l.suspendedCard(serial, l.now()):
		// A revocation notice, ahead of its bundle.
		d.PersonID, d.Reason = e.PersonID, ReasonRevoked
	default:
		d.PersonID = e.PersonID
		d.Reason = l.entryReason(l.now(), e.NotBefore, e.NotAfter, e.Schedule)
		d.Granted = d.Reason == ReasonOK
	}
	return l.conclude(d, lockproto.EventCardGranted, lockproto.EventCardDenied)
}

// cardAnswers runs the challenge–response with a secure card.
func (l *Lock) cardAnswers(c Card, e *lockproto.KeycardEntry) bool {
	ch, err := lockproto.NewCardChallenge(l.prov.LockID)
	if err != nil {
		return false
	}
	raw, err := ch.Encode()
	if err != nil {
		return false
	}
	resp, err := c.Respond(raw)
	if err != nil {
		return false
	}
	return lockproto.VerifyCardResponse(e.Key, ch, e.Serial, resp) == nil
}
