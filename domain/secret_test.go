package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

func TestPasswordHash(t *testing.T) {
	h, err := domain.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an encoded argon2id hash with OWASP parameters", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	h2, _ := domain.HashPassword("correct horse battery")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		name, hash, pw string
		want           bool
	}{
		{"OK", h, "correct horse battery", true},
		{"OKSecondSalt", h2, "correct horse battery", true},
		{"WrongPassword", h, "correct horse batterY", false},
		{"EmptyPassword", h, "", false},
		{"EmptyHash", "", "correct horse battery", false},
		{"NotArgon", "$2a$10$abcdefghijklmnopqrstuv", "correct horse battery", false},
		{"Truncated", h[:len(h)-10], "correct horse battery", false},
		{"BadParams", strings.Replace(h, "m=19456,t=2,p=1", "m=x", 1), "correct horse battery", false},
		{"ZeroTime", strings.Replace(h, "t=2", "t=0", 1), "correct horse battery", false},
		{"ZeroThreads", strings.Replace(h, "p=1", "p=0", 1), "correct horse battery", false},
		{"BadBase64", strings.Replace(h, "$", "$!", 4), "correct horse battery", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.VerifyPassword(tc.hash, tc.pw); got != tc.want {
				t.Fatalf("VerifyPassword = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	tok, hash, err := domain.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
		t.Fatalf("token %q is not 32 random bytes in URL-safe base64", tok)
	}
	if hash == tok || hash != domain.HashToken(tok) || len(hash) != 64 {
		t.Fatalf("stored hash %q must be the SHA-256 hex of the token, never the token", hash)
	}
	tok2, _, _ := domain.NewToken()
	if tok == tok2 {
		t.Fatal("two tokens are equal")
	}
	if domain.HashToken(tok) == domain.HashToken(tok2) {
		t.Fatal("two tokens hash equal")
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := domain.NewID("per")
		if !strings.HasPrefix(id, "per_") || len(id) != 4+16 || strings.Trim(id[4:], "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("id %q", id)
		}
		if seen[id] {
			t.Fatalf("id %s twice", id)
		}
		seen[id] = true
	}
}

func TestNewSeqID(t *testing.T) {
	const alphabet = "234567abcdefghijklmnopqrstuvwxyz"
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 50; i++ {
		id := domain.NewSeqID("evt")
		if !strings.HasPrefix(id, "evt_") || len(id) != 4+26 || strings.Trim(id[4:], alphabet) != "" {
			t.Fatalf("id %q", id)
		}
		if seen[id] {
			t.Fatalf("id %s twice", id)
		}
		seen[id] = true
		// Ids of later milliseconds sort after earlier ones (so they
		// append to an index).
		if prev != "" && id <= prev {
			t.Fatalf("%s made after %s sorts before it", id, prev)
		}
		prev = id
		time.Sleep(2 * time.Millisecond)
	}
	// The random part: 80 bits, two ids of the same instant differ there.
	a, b := domain.NewSeqID("x"), domain.NewSeqID("x")
	if a[2+10:] == b[2+10:] {
		t.Fatalf("random parts equal: %s %s", a, b)
	}
}
