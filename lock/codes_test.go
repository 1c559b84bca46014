package lock

import (
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

func TestResidentCodes(t *testing.T) {
	e := newEnv(t, "lock-a")
	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, Doorcodes: []lockproto.DoorcodeEntry{
		{Code: "1234567", PersonID: "p1"},
		{Code: "2345678", PersonID: "p2", NotAfter: t0.Add(-time.Second)},
		{Code: "3456789", PersonID: "p3", NotBefore: t0.Add(time.Hour)},
		{Code: "4567890", PersonID: "p4", Schedule: lockproto.Schedule{{Day: time.Monday, Start: 11 * 60, End: 12 * 60}}},
	}})
	wantDecision(t, e.code("1234567"), true, ReasonOK)
	wantDecision(t, e.code("2345678"), false, ReasonExpired)
	wantDecision(t, e.code("3456789"), false, ReasonNotYetValid)
	wantDecision(t, e.code("4567890"), false, ReasonOutsideSchedule) // 10:00 Berlin
	e.clock.Advance(time.Hour)
	wantDecision(t, e.code("4567890"), true, ReasonOK)
}

func dayKey(id string) lockproto.DayKey {
	return lockproto.DayKey{KeyID: id, Secret: []byte("0123456789abcdef0123456789abcdef" + id), Digits: 7, Slots: 8, ActiveSlots: []uint16{0, 1, 2, 3}}
}

func TestDayCodes(t *testing.T) {
	pub, priv, _ := lockproto.NewPropertyKey()
	a := newEnvWithProperty(t, "lock-a", pub, priv, NewMemFS())
	b := newEnvWithProperty(t, "lock-b", pub, priv, NewMemFS())
	lobby := dayKey("key-lobby")
	a.apply(lockproto.Bundle{Version: 1, Snapshot: true, DayKeys: []lockproto.DayKey{lobby}})
	b.apply(lockproto.Bundle{Version: 1, Snapshot: true, DayKeys: []lockproto.DayKey{dayKey("key-gym")}})

	today := lockproto.DayNumber(t0, berlin)
	code := lockproto.GuestCode(lobby.Secret, lockproto.DayCode, today, 3, 7)
	d := a.code(code)
	wantDecision(t, d, true, ReasonOK)
	if d.Credential != "daycode" || d.Ref != "key-lobby" {
		t.Fatalf("decision = %+v", d)
	}
	// Another key's door does not know the code.
	wantDecision(t, b.code(code), false, ReasonUnknownCode)
	// Tomorrow's code does not work today.
	wantDecision(t, a.code(lockproto.GuestCode(lobby.Secret, lockproto.DayCode, today+1, 3, 7)), false, ReasonUnknownCode)
	// Midnight to midnight in the property's zone: 23:59 Berlin still works, 00:00 not.
	a.clock.Set(time.Date(2026, 3, 2, 23, 59, 0, 0, berlin))
	wantDecision(t, a.code(code), true, ReasonOK)
	a.clock.Set(time.Date(2026, 3, 3, 0, 0, 0, 0, berlin))
	wantDecision(t, a.code(code), false, ReasonUnknownCode)
	// Removing the key from the door removes its codes.
	a.apply(lockproto.Bundle{Base: 1, Version: 2, RemoveDayKeys: []string{"key-lobby"}})
	wantDecision(t, a.code(lockproto.GuestCode(lobby.Secret, lockproto.DayCode, today+1, 3, 7)), false, ReasonUnknownCode)
}

func TestQuarterHourCodes(t *testing.T) {
	e := newEnv(t, "lock-a")
	k := dayKey("key-lobby")
	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, DayKeys: []lockproto.DayKey{k}})
	code := lockproto.GuestCode(k.Secret, lockproto.QuarterHourCode, lockproto.DayNumber(t0, berlin), 0, 7)

	e.clock.Advance(3 * time.Hour) // unused for hours: the clock has not started
	wantDecision(t, e.code(code), true, ReasonOK)
	e.clock.Advance(10 * time.Minute)
	e.reboot() // first use survives a power cycle
	wantDecision(t, e.code(code), true, ReasonOK)
	e.clock.Advance(5 * time.Minute)
	wantDecision(t, e.code(code), false, ReasonExpired)
}

func TestKeypadLockout(t *testing.T) {
	e := newEnv(t, "lock-a")
	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, Doorcodes: []lockproto.DoorcodeEntry{{Code: "1234567", PersonID: "p1"}}})
	for i := range 4 {
		wantDecision(t, e.code("000000"+string(rune('0'+i))), false, ReasonUnknownCode)
		e.clock.Advance(5 * time.Second)
	}
	// Attempts older than the short window do not count toward it.
	e.clock.Advance(shortWindow)
	wantDecision(t, e.code("0000009"), false, ReasonUnknownCode)
	wantDecision(t, e.code("1234567"), true, ReasonOK)
	for range 4 {
		wantDecision(t, e.code("9999999"), false, ReasonUnknownCode)
	}
	// Five wrong within a minute: locked, even for the right code, even after a reboot.
	wantDecision(t, e.code("1234567"), false, ReasonKeypadLocked)
	e.reboot()
	e.clock.Advance(59 * time.Second)
	wantDecision(t, e.code("1234567"), false, ReasonKeypadLocked)
	e.clock.Advance(time.Second)
	wantDecision(t, e.code("1234567"), true, ReasonOK)

	batch, err := e.lock.EventsSince(1)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := openBatch(e.lock, batch)
	if err != nil {
		t.Fatal(err)
	}
	var locked int
	for _, ev := range b.Events {
		if ev.Kind == lockproto.EventKeypadLocked {
			locked++
		}
	}
	if locked != 1 {
		t.Fatalf("keypad.locked events = %d, want 1", locked)
	}
}
