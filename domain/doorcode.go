package domain

import (
	"crypto/rand"
	"math/big"
)

// GenerateDoorcode draws a random numeric code of the given length that
// taken() does not reject. Trivial codes (one repeated digit, straight runs
// such as 1234567) are skipped because they are the first ones people try.
func GenerateDoorcode(length int, taken func(code string) bool) (string, error) {
	if length < MinDoorcodeLength || length > MaxDoorcodeLength {
		return "", FieldError("doorcode_length", "must be between %d and %d", MinDoorcodeLength, MaxDoorcodeLength)
	}
	for attempt := 0; attempt < 1000; attempt++ {
		b := make([]byte, length)
		for i := range b {
			n, err := rand.Int(rand.Reader, big.NewInt(10))
			if err != nil {
				return "", err
			}
			b[i] = byte('0' + n.Int64())
		}
		code := string(b)
		if TrivialDoorcode(code) || taken(code) {
			continue
		}
		return code, nil
	}
	return "", Errorf(EConflict, "no free doorcode of length %d is left; increase the property's doorcode length", length)
}

// TrivialDoorcode reports codes that are all one digit or a straight run.
func TrivialDoorcode(code string) bool {
	same, up, down := true, true, true
	for i := 1; i < len(code); i++ {
		d := int(code[i]) - int(code[i-1])
		same = same && d == 0
		up = up && (d == 1 || d == -9)
		down = down && (d == -1 || d == 9)
	}
	return same || up || down
}
