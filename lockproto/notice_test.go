package lockproto_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
	"golang.org/x/crypto/chacha20poly1305"
)

// Revocation notice (issue 14): threat-model rows "revocation notice"
// (docs/lock-protocol.md). Everything here goes through the exported API,
// as the cloud, a relay or an attacker would.

const (
	ctxNotice = "application/dooros-revocation-notice+cbor; v=1"
	ctxBundle = "application/dooros-bundle+cbor; v=1"
)

func signNotice(t testing.TB, priv ed25519.PrivateKey, persons ...string) []byte {
	t.Helper()
	signed, err := lockproto.SignRevocationNotice(priv, lockproto.RevocationNotice{Persons: persons, IssuedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func sealNotice(t testing.TB, signed []byte, lockID string, key []byte, until uint64) []byte {
	t.Helper()
	sealed, err := lockproto.SealRevocationNotice(signed, lockID, key, until)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// signAs signs payload with priv as a COSE_Sign1 whose content type is
// header and whose external AAD is aad: what anyone holding a property key
// (or a bug in the cloud) could produce, well-formed or not.
func signAs(t testing.TB, priv ed25519.PrivateKey, header, aad string, payload []byte) []byte {
	t.Helper()
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, priv)
	if err != nil {
		t.Fatal(err)
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmEdDSA)
	msg.Headers.Protected[cose.HeaderLabelContentType] = header
	msg.Payload = payload
	if err := msg.Sign(nil, []byte(aad), signer); err != nil {
		t.Fatal(err)
	}
	out, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// envelope decodes a sealed notice (or bundle) as a plain map, so a test
// can edit its cleartext fields and re-encode it.
func envelope(t testing.TB, sealed []byte) map[int]any {
	t.Helper()
	var m map[int]any
	if err := cbor.Unmarshal(sealed, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func openNotice(f *fixture, sealed []byte) (*lockproto.RevocationNotice, uint64, error) {
	return lockproto.OpenRevocationNotice(f.propPub, "lock-1", f.lock.Symmetric, sealed)
}

func wantNoticeErr(t *testing.T, what string, sealed []byte, f *fixture, sentinel error) {
	t.Helper()
	n, until, err := openNotice(f, sealed)
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: opened (%+v, until %d, err %v), want %v", what, n, until, err, sentinel)
	}
	if n != nil || until != 0 {
		t.Fatalf("%s: refused yet returned %+v, until %d", what, n, until)
	}
}

func TestRevocationNoticeRoundTrip(t *testing.T) {
	f := newFixture(t)
	signed, err := lockproto.SignRevocationNotice(f.propPriv, lockproto.RevocationNotice{Persons: []string{"person-alice", "person-bob"}, IssuedAt: now.Add(1500 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	sealed := sealNotice(t, signed, "lock-1", f.lock.Symmetric, 9)
	if !lockproto.IsRevocationNotice(sealed) {
		t.Fatal("IsRevocationNotice(notice) = false")
	}
	n, until, err := openNotice(f, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if until != 9 || n.V != lockproto.Version || len(n.Persons) != 2 || n.Persons[0] != "person-alice" || n.Persons[1] != "person-bob" || !n.IssuedAt.Equal(now.Add(time.Second)) {
		t.Fatalf("opened %+v until %d", n, until)
	}
	// The broker and anyone listening cannot read who was revoked.
	for _, secret := range []string{"person-alice", "person-bob"} {
		if bytes.Contains(sealed, []byte(secret)) {
			t.Fatalf("sealed notice shows %q in the clear", secret)
		}
	}
	// Signed once, sealed per lock: the same signed part opens at another
	// lock under that lock's key.
	other, _ := lockproto.NewLockKeys("lock-2")
	if n, until, err := lockproto.OpenRevocationNotice(f.propPub, "lock-2", other.Symmetric, sealNotice(t, signed, "lock-2", other.Symmetric, 3)); err != nil || until != 3 || len(n.Persons) != 2 {
		t.Fatalf("same notice at another lock: %+v, %d, %v", n, until, err)
	}
	// IssuedAt defaults to now.
	signed, err = lockproto.SignRevocationNotice(f.propPriv, lockproto.RevocationNotice{Persons: []string{"p"}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := openNotice(f, sealNotice(t, signed, "lock-1", f.lock.Symmetric, 1)); err != nil || time.Since(n.IssuedAt) > time.Minute {
		t.Fatalf("default IssuedAt: %+v, %v", n, err)
	}
	// A seal needs a lock id and a version.
	for _, c := range []struct {
		lockID string
		until  uint64
	}{{"", 1}, {"lock-1", 0}} {
		if _, err := lockproto.SealRevocationNotice(signed, c.lockID, f.lock.Symmetric, c.until); !errors.Is(err, lockproto.ErrMalformed) {
			t.Fatalf("seal for %q until %d: %v", c.lockID, c.until, err)
		}
	}
	if _, err := lockproto.SealRevocationNotice(signed, "lock-1", []byte("short"), 1); err == nil {
		t.Fatal("sealed under a 5-byte key")
	}
}

// TestRevocationNoticeDayKeysAndCards: a notice can name day keys (whose
// guest codes the lock refuses), keycard serials and people's doorcodes,
// alone or beside people; they travel sealed like person ids. A notice naming only people
// carries no field for them, so its bytes are what they were before they
// existed.
func TestRevocationNoticeDayKeysAndCards(t *testing.T) {
	f := newFixture(t)
	in := lockproto.RevocationNotice{Persons: []string{"person-alice"}, DayKeys: []string{"key-lobby", "key-gym"}, Cards: []string{"CARD-0042"}, Doorcodes: []string{"person-bob"}, IssuedAt: now}
	signed, err := lockproto.SignRevocationNotice(f.propPriv, in)
	if err != nil {
		t.Fatal(err)
	}
	sealed := sealNotice(t, signed, "lock-1", f.lock.Symmetric, 4)
	n, until, err := openNotice(f, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if until != 4 || n.Names() != 5 || !reflect.DeepEqual(n.DayKeys, in.DayKeys) || !reflect.DeepEqual(n.Cards, in.Cards) || !reflect.DeepEqual(n.Persons, in.Persons) || !reflect.DeepEqual(n.Doorcodes, in.Doorcodes) {
		t.Fatalf("opened %+v until %d", n, until)
	}
	for _, secret := range []string{"key-lobby", "CARD-0042", "person-bob"} {
		if bytes.Contains(sealed, []byte(secret)) {
			t.Fatalf("sealed notice shows %q in the clear", secret)
		}
	}
	// Day keys only: a guest whose host is not revoked.
	signed, err = lockproto.SignRevocationNotice(f.propPriv, lockproto.RevocationNotice{DayKeys: []string{"key-lobby"}, IssuedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := openNotice(f, sealNotice(t, signed, "lock-1", f.lock.Symmetric, 4)); err != nil || len(n.Persons) != 0 || len(n.DayKeys) != 1 {
		t.Fatalf("day-key-only notice: %+v, %v", n, err)
	}
	// People only: exactly the fields 0, 1 and 2.
	var body map[int]any
	if err := cbor.Unmarshal(cosePayload(t, signNotice(t, f.propPriv, "person-alice")), &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 3 || body[0] == nil || body[1] == nil || body[2] == nil {
		t.Fatalf("a people-only notice's body: %v", body)
	}
}

// The largest notice the cloud may sign (MaxNoticePersons ids of
// MaxNoticePersonID bytes) seals under MaxNoticeSize and opens.
func TestRevocationNoticeLargestFits(t *testing.T) {
	f := newFixture(t)
	persons := make([]string, lockproto.MaxNoticeNames)
	for i := range persons {
		persons[i] = fmt.Sprintf("%03d", i) + strings.Repeat("x", lockproto.MaxNoticeID-3)
	}
	sealed := sealNotice(t, signNotice(t, f.propPriv, persons...), "lock-1", f.lock.Symmetric, 1<<60)
	if len(sealed) > lockproto.MaxNoticeSize {
		t.Fatalf("largest notice is %d bytes, ceiling %d", len(sealed), lockproto.MaxNoticeSize)
	}
	if n, _, err := openNotice(f, sealed); err != nil || len(n.Persons) != lockproto.MaxNoticeNames {
		t.Fatalf("largest notice: %v", err)
	}
	t.Logf("largest notice: %d bytes sealed (ceiling %d)", len(sealed), lockproto.MaxNoticeSize)
}

// TestRevocationNoticeRefusals: every way a relay, another lock, another
// property or a holder of this lock's symmetric key might get a notice
// accepted that the property did not sign for this lock.
func TestRevocationNoticeRefusals(t *testing.T) {
	f := newFixture(t)
	signed := signNotice(t, f.propPriv, "person-alice")
	good := sealNotice(t, signed, "lock-1", f.lock.Symmetric, 5)
	if _, _, err := openNotice(f, good); err != nil {
		t.Fatal(err)
	}
	other, _ := lockproto.NewLockKeys("lock-2")

	t.Run("another lock's symmetric key", func(t *testing.T) {
		// Sealed by someone who holds another lock's key (its flash),
		// addressed to this lock.
		wantNoticeErr(t, "sealed under another key", sealNotice(t, signed, "lock-1", other.Symmetric, 5), f, lockproto.ErrDecrypt)
	})
	t.Run("another lock's notice", func(t *testing.T) {
		wantNoticeErr(t, "addressed to lock-2", sealNotice(t, signed, "lock-2", other.Symmetric, 5), f, lockproto.ErrWrongLock)
		if _, _, err := lockproto.OpenRevocationNotice(f.propPub, "lock-2", other.Symmetric, good); !errors.Is(err, lockproto.ErrWrongLock) {
			t.Fatalf("lock-2 opened lock-1's notice: %v", err)
		}
	})
	t.Run("re-addressed envelope", func(t *testing.T) {
		// A relay rewrites the cleartext lock id: the addressee refuses it
		// as another lock's, the new one cannot open it.
		m := envelope(t, good)
		m[1] = "lock-2"
		moved := detEncode(t, m)
		if !lockproto.IsRevocationNotice(moved) {
			t.Fatal("re-addressed envelope no longer decodes: the test edits nothing")
		}
		wantNoticeErr(t, "re-addressed", moved, f, lockproto.ErrWrongLock)
		if _, _, err := lockproto.OpenRevocationNotice(f.propPub, "lock-2", other.Symmetric, moved); !errors.Is(err, lockproto.ErrDecrypt) {
			t.Fatalf("lock-2 opened a notice re-addressed to it: %v", err)
		}
		// The lock id is in the AEAD's AAD: even under the same key (a
		// lock re-provisioned under a new id that kept its key) it does
		// not open.
		if _, _, err := lockproto.OpenRevocationNotice(f.propPub, "lock-2", f.lock.Symmetric, moved); !errors.Is(err, lockproto.ErrDecrypt) {
			t.Fatalf("re-addressed envelope opened under the original key: %v", err)
		}
	})
	t.Run("Until changed", func(t *testing.T) {
		// A relay makes the notice outlive its bundle (or expire at once).
		for _, until := range []uint64{4, 6, 1 << 62} {
			m := envelope(t, good)
			m[20] = until
			wantNoticeErr(t, fmt.Sprintf("until %d", until), detEncode(t, m), f, lockproto.ErrDecrypt)
		}
	})
	t.Run("ciphertext or nonce flipped", func(t *testing.T) {
		for _, k := range []int{21, 22} {
			m := envelope(t, good)
			b := bytes.Clone(m[k].([]byte))
			b[len(b)-1] ^= 1
			m[k] = b
			wantNoticeErr(t, fmt.Sprintf("field %d flipped", k), detEncode(t, m), f, lockproto.ErrDecrypt)
		}
	})
	t.Run("signed by another property", func(t *testing.T) {
		_, stranger, _ := lockproto.NewPropertyKey()
		wantNoticeErr(t, "stranger", sealNotice(t, signNotice(t, stranger, "person-alice"), "lock-1", f.lock.Symmetric, 5), f, lockproto.ErrSignature)
		// The notice's own payload, signed for the notice's content type
		// but over the bundle's context as external AAD.
		payload := cosePayload(t, signed)
		wantNoticeErr(t, "signature over another context", sealNotice(t, signAs(t, f.propPriv, ctxNotice, ctxBundle, payload), "lock-1", f.lock.Symmetric, 5), f, lockproto.ErrSignature)
	})
	t.Run("other signed messages as the signed part", func(t *testing.T) {
		// Every one of these is signed by this property's key: only the
		// context tells them from a notice.
		payload := cosePayload(t, signed)
		cred := f.credential(t)
		cmd, err := lockproto.IssueRemoteUnlock(f.propPriv, lockproto.RemoteUnlock{LockID: "lock-1", PersonID: "person-alice", Counter: 1, IssuedAt: now, NotAfter: now.Add(30 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := lockproto.IssueTimeToken(f.propPriv, now, 1)
		if err != nil {
			t.Fatal(err)
		}
		for name, part := range map[string][]byte{
			"notice payload signed as a bundle": signAs(t, f.propPriv, ctxBundle, ctxBundle, payload),
			"a real signed bundle":              signedBundle(t, f),
			"a remote-unlock command":           cmd,
			"a credential":                      cred,
			"a time token":                      tok,
		} {
			n, _, err := openNotice(f, sealNotice(t, part, "lock-1", f.lock.Symmetric, 5))
			if err == nil || !(errors.Is(err, lockproto.ErrMalformed) || errors.Is(err, lockproto.ErrSignature)) {
				t.Fatalf("%s taken as a notice: %+v, %v", name, n, err)
			}
		}
	})
	t.Run("a bundle is not a notice, a notice is not a bundle", func(t *testing.T) {
		bundle := f.bundle(t)
		if lockproto.IsRevocationNotice(bundle) {
			t.Fatal("IsRevocationNotice(sealed bundle) = true")
		}
		wantNoticeErr(t, "a sealed bundle", bundle, f, lockproto.ErrMalformed)
		if b, err := lockproto.OpenBundle(f.propPub, "lock-1", f.lock.Symmetric, good); !errors.Is(err, lockproto.ErrMalformed) {
			t.Fatalf("OpenBundle(notice) = %+v, %v", b, err)
		}
		if _, err := lockproto.ReadBundleHeader(good); err == nil {
			t.Fatal("a notice has a bundle header")
		}
		for _, junk := range [][]byte{nil, {0xa0}, good[:len(good)/2], append(bytes.Clone(good), 0)} {
			if lockproto.IsRevocationNotice(junk) {
				t.Fatalf("IsRevocationNotice(%x) = true", junk)
			}
		}
	})
	t.Run("oversized", func(t *testing.T) {
		big := make([]byte, lockproto.MaxNoticeSize+1)
		if lockproto.IsRevocationNotice(big) {
			t.Fatal("IsRevocationNotice(oversized) = true")
		}
		wantNoticeErr(t, "oversized", big, f, lockproto.ErrTooLarge)
		// Oversized inside a well-formed envelope: checked before parsing.
		m := envelope(t, good)
		m[22] = make([]byte, lockproto.MaxNoticeSize)
		wantNoticeErr(t, "oversized ciphertext", detEncode(t, m), f, lockproto.ErrTooLarge)
		if _, err := lockproto.SealRevocationNotice(make([]byte, lockproto.MaxNoticeSize), "lock-1", f.lock.Symmetric, 5); !errors.Is(err, lockproto.ErrTooLarge) {
			t.Fatalf("sealed an oversized notice: %v", err)
		}
	})
	t.Run("envelope shape", func(t *testing.T) {
		for name, edit := range map[string]func(m map[int]any){
			"unknown field":  func(m map[int]any) { m[23] = uint64(1) },
			"no lock id":     func(m map[int]any) { delete(m, 1) },
			"until 0":        func(m map[int]any) { delete(m, 20) },
			"short nonce":    func(m map[int]any) { m[21] = m[21].([]byte)[:12] },
			"no ciphertext":  func(m map[int]any) { m[22] = []byte{1, 2, 3} },
			"until as float": func(m map[int]any) { m[20] = float64(5) },
		} {
			m := envelope(t, good)
			edit(m)
			data := detEncode(t, m)
			if lockproto.IsRevocationNotice(data) {
				t.Fatalf("%s: IsRevocationNotice = true", name)
			}
			wantNoticeErr(t, name, data, f, lockproto.ErrMalformed)
		}
		m := envelope(t, good)
		m[0] = uint64(1)
		wantNoticeErr(t, "V 1", detEncode(t, m), f, lockproto.ErrVersion)
	})
}

// TestRevocationNoticeBody: what the property signs is checked at signing
// (the cloud cannot make one) and again at opening (hand-built CBOR under
// a valid signature: a cloud bug or another implementation).
func TestRevocationNoticeBody(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("x", lockproto.MaxNoticeID+1)
	many := make([]string, lockproto.MaxNoticeNames+1)
	for i := range many {
		many[i] = fmt.Sprint("p-", i)
	}
	for name, persons := range map[string][]string{
		"no one":           nil,
		"empty list":       {},
		"too many":         many,
		"duplicate":        {"p-1", "p-2", "p-1"},
		"empty person id":  {"p-1", ""},
		"over-long person": {long},
	} {
		if _, err := lockproto.SignRevocationNotice(f.propPriv, lockproto.RevocationNotice{Persons: persons, IssuedAt: now}); !errors.Is(err, lockproto.ErrMalformed) {
			t.Fatalf("%s: signed (%v)", name, err)
		}
		payload := detEncode(t, map[int]any{0: lockproto.Version, 1: persons, 2: now.Unix()})
		if persons == nil {
			payload = detEncode(t, map[int]any{0: lockproto.Version, 2: now.Unix()})
		}
		wantNoticeErr(t, name, sealNotice(t, signAs(t, f.propPriv, ctxNotice, ctxNotice, payload), "lock-1", f.lock.Symmetric, 5), f, lockproto.ErrMalformed)
	}
	// Day keys and cards: the same rules, and the limit counts every name.
	people := make([]string, lockproto.MaxNoticeNames-1)
	for i := range people {
		people[i] = fmt.Sprint("p-", i)
	}
	for name, n := range map[string]lockproto.RevocationNotice{
		"duplicate day key":       {DayKeys: []string{"key-1", "key-1"}},
		"empty day key":           {DayKeys: []string{""}},
		"over-long day key":       {DayKeys: []string{long}},
		"duplicate card":          {Persons: []string{"p-1"}, Cards: []string{"C-1", "C-1"}},
		"empty card":              {Cards: []string{""}},
		"over-long card":          {Cards: []string{long}},
		"duplicate doorcode":      {Doorcodes: []string{"p-1", "p-1"}},
		"empty doorcode":          {Doorcodes: []string{""}},
		"too many names together": {Persons: people, DayKeys: []string{"key-1"}, Cards: []string{"C-1"}},
	} {
		n.IssuedAt = now
		if _, err := lockproto.SignRevocationNotice(f.propPriv, n); !errors.Is(err, lockproto.ErrMalformed) {
			t.Fatalf("%s: signed (%v)", name, err)
		}
		body := map[int]any{0: lockproto.Version, 2: now.Unix()}
		for k, list := range map[int][]string{1: n.Persons, 3: n.DayKeys, 4: n.Cards, 5: n.Doorcodes} {
			if list != nil {
				body[k] = list
			}
		}
		wantNoticeErr(t, name, sealNotice(t, signAs(t, f.propPriv, ctxNotice, ctxNotice, detEncode(t, body)), "lock-1", f.lock.Symmetric, 5), f, lockproto.ErrMalformed)
	}
	// The hand-built controls for fields 3-5: each opens alone; 256 names
	// spread over the four kinds open; a person id may be in Persons and
	// Doorcodes both (a merged change names them twice).
	for name, body := range map[string]map[int]any{
		"day keys":                       {0: lockproto.Version, 2: now.Unix(), 3: []string{"key-1"}},
		"cards":                          {0: lockproto.Version, 2: now.Unix(), 4: []string{"C-1"}},
		"doorcodes":                      {0: lockproto.Version, 2: now.Unix(), 5: []string{"p-1"}},
		"256 names":                      {0: lockproto.Version, 1: people[:250], 2: now.Unix(), 3: []string{"key-1", "key-2"}, 4: []string{"C-1", "C-2"}, 5: []string{"p-1", "p-2"}},
		"same id as person and doorcode": {0: lockproto.Version, 1: []string{"p-1"}, 2: now.Unix(), 5: []string{"p-1"}},
	} {
		sealed := sealNotice(t, signAs(t, f.propPriv, ctxNotice, ctxNotice, detEncode(t, body)), "lock-1", f.lock.Symmetric, 5)
		if n, _, err := openNotice(f, sealed); err != nil {
			t.Fatalf("hand-built valid notice (%s) refused: %v (%+v)", name, err, n)
		}
	}
	if _, err := lockproto.SignRevocationNotice(f.propPriv, lockproto.RevocationNotice{Persons: []string{"p"}, IssuedAt: time.Unix(-5, 0)}); !errors.Is(err, lockproto.ErrMalformed) {
		t.Fatalf("signed a notice issued before 1970: %v", err)
	}
	// The hand-built control: the same encoding of a valid body opens.
	okPayload := detEncode(t, map[int]any{0: lockproto.Version, 1: []string{"p-1"}, 2: now.Unix()})
	if _, _, err := openNotice(f, sealNotice(t, signAs(t, f.propPriv, ctxNotice, ctxNotice, okPayload), "lock-1", f.lock.Symmetric, 5)); err != nil {
		t.Fatalf("hand-built valid notice refused: %v", err)
	}
	for name, body := range map[string]map[int]any{
		"float time":        {0: lockproto.Version, 1: []string{"p-1"}, 2: float64(now.Unix())},
		"text time":         {0: lockproto.Version, 1: []string{"p-1"}, 2: now.Format(time.RFC3339)},
		"no time":           {0: lockproto.Version, 1: []string{"p-1"}},
		"unknown field":     {0: lockproto.Version, 1: []string{"p-1"}, 2: now.Unix(), 9: "extra"},
		"day keys as text":  {0: lockproto.Version, 2: now.Unix(), 3: "key-1"},
		"cards as a map":    {0: lockproto.Version, 2: now.Unix(), 4: map[string]string{"C-1": "p-1"}},
		"person as bytes":   {0: lockproto.Version, 1: [][]byte{[]byte("p-1")}, 2: now.Unix()},
		"version 1":         {0: 1, 1: []string{"p-1"}, 2: now.Unix()},
		"explicit zero V":   {0: 0, 1: []string{"p-1"}, 2: now.Unix()},
		"negative time":     {0: lockproto.Version, 1: []string{"p-1"}, 2: -1},
		"persons not array": {0: lockproto.Version, 1: "p-1", 2: now.Unix()},
	} {
		sealed := sealNotice(t, signAs(t, f.propPriv, ctxNotice, ctxNotice, detEncode(t, body)), "lock-1", f.lock.Symmetric, 5)
		if n, _, err := openNotice(f, sealed); err == nil || !(errors.Is(err, lockproto.ErrMalformed) || errors.Is(err, lockproto.ErrVersion)) {
			t.Fatalf("%s: opened %+v, %v", name, n, err)
		}
	}
	// Non-shortest integer encoding of the time (0x1a for a value that
	// fits, made by hand): not the signer's bytes.
	good := detEncode(t, map[int]any{0: lockproto.Version, 1: []string{"p-1"}, 2: 100})
	bad := append(bytes.TrimSuffix(good, []byte{0x18, 100}), 0x1a, 0, 0, 0, 100)
	if bytes.Equal(bad, good) || len(bad) != len(good)+3 {
		t.Fatalf("hand-built encoding: %x", bad)
	}
	if n, _, err := openNotice(f, sealNotice(t, signAs(t, f.propPriv, ctxNotice, ctxNotice, bad), "lock-1", f.lock.Symmetric, 5)); !errors.Is(err, lockproto.ErrMalformed) {
		t.Fatalf("non-shortest time: opened %+v, %v", n, err)
	}
}

func cosePayload(t testing.TB, signed []byte) []byte {
	t.Helper()
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(signed); err != nil {
		t.Fatal(err)
	}
	return m.Payload
}

// signedBundle is the property-signed part of a real sealed bundle, taken
// out of its envelope as a holder of the lock's symmetric key could.
func signedBundle(t testing.TB, f *fixture) []byte {
	t.Helper()
	m := envelope(t, f.bundle(t))
	aad := detEncode(t, []any{"dooros-bundle", m[0], m[1], m[2], m[3], m[4]})
	aead, err := chacha20poly1305.NewX(f.lock.Symmetric)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := aead.Open(nil, m[5].([]byte), m[6].([]byte), aad)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// FuzzOpenRevocationNotice: whatever arrives on a lock's bundle topic,
// OpenRevocationNotice never panics and returns a notice only as the
// property signed it and the cloud sealed it for this lock (the seal's
// nonce is random: each worker seals its own, the opened content is
// compared).
func FuzzOpenRevocationNotice(f *testing.F) {
	fx := fixedFixture()
	signed, err := lockproto.SignRevocationNotice(fx.propPriv, lockproto.RevocationNotice{Persons: []string{"person-alice", "person-bob"}, IssuedAt: now})
	if err != nil {
		f.Fatal(err)
	}
	good, err := lockproto.SealRevocationNotice(signed, "lock-1", fx.lock.Symmetric, 7)
	if err != nil {
		f.Fatal(err)
	}
	want, wantUntil, err := lockproto.OpenRevocationNotice(fx.propPub, "lock-1", fx.lock.Symmetric, good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:40])
	f.Add(fx.bundle(f))
	f.Add([]byte{0xa0})
	f.Add([]byte{0xa5, 0x00, 0x02, 0x01, 0x66, 'l', 'o', 'c', 'k', '-', '1', 0x14, 0x07, 0x15, 0x40, 0x16, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		lockproto.IsRevocationNotice(data)
		n, until, err := lockproto.OpenRevocationNotice(fx.propPub, "lock-1", fx.lock.Symmetric, data)
		if err != nil {
			if n != nil || until != 0 {
				t.Fatalf("refused (%v) yet returned %+v until %d", err, n, until)
			}
			return
		}
		if until != wantUntil || !reflect.DeepEqual(n, want) {
			t.Fatalf("accepted a notice the property never signed for this lock: %+v until %d", n, until)
		}
	})
}
