package lockproto_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// RFC 4226 Appendix D.
func TestHOTPRFC4226(t *testing.T) {
	secret := []byte("12345678901234567890")
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for i, w := range want {
		if got := lockproto.HOTP(sha1.New, secret, uint64(i), 6); got != w {
			t.Errorf("HOTP(count %d) = %s, want %s", i, got, w)
		}
	}
}

// RFC 6238 Appendix B: TOTP is HOTP over floor(t/30). The SHA-256 and
// SHA-512 vectors use 32- and 64-byte seeds (the RFC's text says 20).
func TestHOTPRFC6238(t *testing.T) {
	seeds := map[string][]byte{
		"SHA1":   []byte("12345678901234567890"),
		"SHA256": []byte("12345678901234567890123456789012"),
		"SHA512": []byte("1234567890123456789012345678901234567890123456789012345678901234"),
	}
	hashes := map[string]func() hash.Hash{"SHA1": sha1.New, "SHA256": sha256.New, "SHA512": sha512.New}
	vectors := []struct {
		t    int64
		want map[string]string
	}{
		{59, map[string]string{"SHA1": "94287082", "SHA256": "46119246", "SHA512": "90693936"}},
		{1111111109, map[string]string{"SHA1": "07081804", "SHA256": "68084774", "SHA512": "25091201"}},
		{1111111111, map[string]string{"SHA1": "14050471", "SHA256": "67062674", "SHA512": "99943326"}},
		{1234567890, map[string]string{"SHA1": "89005924", "SHA256": "91819424", "SHA512": "93441116"}},
		{2000000000, map[string]string{"SHA1": "69279037", "SHA256": "90698825", "SHA512": "38618901"}},
		{20000000000, map[string]string{"SHA1": "65353130", "SHA256": "77737706", "SHA512": "47863826"}},
	}
	for _, v := range vectors {
		for alg, want := range v.want {
			if got := lockproto.HOTP(hashes[alg], seeds[alg], uint64(v.t/30), 8); got != want {
				t.Errorf("%s at %d = %s, want %s", alg, v.t, got, want)
			}
		}
	}
}

func TestGuestCode(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	a := lockproto.GuestCode(secret, lockproto.DayCode, 20000, 1, 7)
	if len(a) != 7 {
		t.Fatalf("code %q", a)
	}
	for _, other := range []string{
		lockproto.GuestCode(secret, lockproto.DayCode, 20001, 1, 7),
		lockproto.GuestCode(secret, lockproto.DayCode, 20000, 2, 7),
		lockproto.GuestCode(secret, lockproto.QuarterHourCode, 20000, 1, 7),
		lockproto.GuestCode([]byte("another secret of 32 bytes......"), lockproto.DayCode, 20000, 1, 7),
	} {
		if other == a {
			t.Fatalf("code %s repeats across day, slot, kind or key", a)
		}
	}
}

func TestDayNumber(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	// 02:00 UTC on 3 March is still 2 March in New York.
	at := time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC)
	if got, want := lockproto.DayNumber(at, ny), lockproto.DayNumber(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), time.UTC); got != want {
		t.Fatalf("day = %d, want %d", got, want)
	}
	if got := lockproto.DayStart(lockproto.DayNumber(at, ny), ny); !got.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, ny)) {
		t.Fatalf("day start = %v", got)
	}
}

func TestScheduleAcrossDST(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s := lockproto.Schedule{{Day: time.Sunday, Start: 8 * 60, End: 9 * 60}}
	// 29 March 2026: clocks go forward at 02:00. 08:30 local is 06:30 UTC.
	if !s.Allows(time.Date(2026, 3, 29, 6, 30, 0, 0, time.UTC), berlin) {
		t.Fatal("08:30 local not allowed")
	}
	if s.Allows(time.Date(2026, 3, 29, 7, 30, 0, 0, time.UTC), berlin) {
		t.Fatal("09:30 local allowed")
	}
	if err := (lockproto.Schedule{{Day: 7, Start: 0, End: 10}}).Validate(); err == nil {
		t.Fatal("weekday 7 accepted")
	}
}
