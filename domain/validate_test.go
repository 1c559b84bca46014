package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

// wantErr checks that err is an *domain.Error with the given code naming the
// given field ("" for an error that names no field); code "" means no error.
func wantErr(t *testing.T, err error, code domain.Code, field string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %s on %q", code, field)
	}
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("code = %s, want %s (%v)", got, code, err)
	}
	e := err.(*domain.Error)
	if e.Field != field {
		t.Fatalf("field = %q, want %q (%v)", e.Field, field, err)
	}
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		code           domain.Code
	}{
		{"OK", "ana@example.com", "ana@example.com", ""},
		{"OKLowercasedAndTrimmed", "  Ana.Lopez@Example.COM ", "ana.lopez@example.com", ""},
		{"OKPlusTag", "ana+door@example.co.uk", "ana+door@example.co.uk", ""},
		{"ErrEmpty", "   ", "", domain.EInvalid},
		{"ErrNoAt", "ana.example.com", "", domain.EInvalid},
		{"ErrNoDomainDot", "ana@localhost", "", domain.EInvalid},
		{"ErrDisplayName", "Ana <ana@example.com>", "", domain.EInvalid},
		{"ErrTwoAddresses", "a@example.com, b@example.com", "", domain.EInvalid},
		{"ErrSpaces", "an a@example.com", "", domain.EInvalid},
		{"ErrTooLong", strings.Repeat("a", 250) + "@example.com", "", domain.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.NormalizeEmail("email", tc.in)
			if tc.code == "" {
				wantErr(t, err, "", "")
				if got != tc.want {
					t.Fatalf("got %q, want %q", got, tc.want)
				}
				return
			}
			wantErr(t, err, tc.code, "email")
		})
	}
}

func TestPropertyInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    domain.PropertyInput
		field string
	}{
		{"OK", domain.PropertyInput{Name: "Elm Court", TimeZone: "America/New_York", DoorcodeLength: 4}, ""},
		{"OKNineDigits", domain.PropertyInput{Name: "Elm Court", TimeZone: "Europe/Berlin", DoorcodeLength: 9}, ""},
		{"ErrNameRequired", domain.PropertyInput{Name: "  ", TimeZone: "UTC"}, "name"},
		{"ErrNameTooLong", domain.PropertyInput{Name: strings.Repeat("x", 101), TimeZone: "UTC"}, "name"},
		{"ErrNameMultiline", domain.PropertyInput{Name: "a\nb", TimeZone: "UTC"}, "name"},
		{"ErrTimeZoneRequired", domain.PropertyInput{Name: "A"}, "time_zone"},
		{"ErrTimeZoneUnknown", domain.PropertyInput{Name: "A", TimeZone: "Mars/Olympus"}, "time_zone"},
		{"ErrTimeZoneLocal", domain.PropertyInput{Name: "A", TimeZone: "Local"}, "time_zone"},
		{"ErrDoorcodeLengthShort", domain.PropertyInput{Name: "A", TimeZone: "UTC", DoorcodeLength: 3}, "doorcode_length"},
		{"ErrDoorcodeLengthLong", domain.PropertyInput{Name: "A", TimeZone: "UTC", DoorcodeLength: 10}, "doorcode_length"},
		{"ErrDoorcodeLengthNegative", domain.PropertyInput{Name: "A", TimeZone: "UTC", DoorcodeLength: -7}, "doorcode_length"},
		{"ErrCredentialLifetime", domain.PropertyInput{Name: "A", TimeZone: "UTC", CredentialLifetimeHours: 24*7 + 1}, "credential_lifetime_hours"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Normalize()
			if tc.field == "" {
				wantErr(t, err, "", "")
				return
			}
			wantErr(t, err, domain.EInvalid, tc.field)
		})
	}
	t.Run("OKDefaults", func(t *testing.T) {
		in := domain.PropertyInput{Name: " Elm Court ", TimeZone: "UTC"}
		if err := in.Normalize(); err != nil {
			t.Fatal(err)
		}
		if in.Name != "Elm Court" || in.DoorcodeLength != 7 || in.CredentialLifetimeHours != 24 {
			t.Fatalf("defaults not applied: %+v", in)
		}
	})
}

func TestDoorAndUnitInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    domain.DoorInput
		field string
	}{
		{"OK", domain.DoorInput{Name: "Lobby", Type: domain.DoorEntrance, Connectivity: domain.Online}, ""},
		{"OKEveryType", domain.DoorInput{Name: "Gym", Type: domain.DoorCommunal, Connectivity: domain.Offline}, ""},
		{"ErrNameRequired", domain.DoorInput{Type: domain.DoorService, Connectivity: domain.Online}, "name"},
		{"ErrTypeRequired", domain.DoorInput{Name: "Lobby", Connectivity: domain.Online}, "type"},
		{"ErrTypeUnknown", domain.DoorInput{Name: "Lobby", Type: "garage", Connectivity: domain.Online}, "type"},
		{"ErrConnectivityRequired", domain.DoorInput{Name: "Lobby", Type: domain.DoorResidence}, "connectivity"},
		{"ErrConnectivityUnknown", domain.DoorInput{Name: "Lobby", Type: domain.DoorResidence, Connectivity: "wifi"}, "connectivity"},
	} {
		t.Run("Door"+tc.name, func(t *testing.T) {
			err := tc.in.Normalize()
			if tc.field == "" {
				wantErr(t, err, "", "")
				return
			}
			wantErr(t, err, domain.EInvalid, tc.field)
		})
	}
	t.Run("UnitOK", func(t *testing.T) {
		in := domain.UnitInput{Name: " 101 "}
		wantErr(t, in.Normalize(), "", "")
		if in.Name != "101" {
			t.Fatalf("name = %q", in.Name)
		}
	})
	t.Run("UnitErrNameRequired", func(t *testing.T) {
		in := domain.UnitInput{}
		wantErr(t, in.Normalize(), domain.EInvalid, "name")
	})
}

func TestKeyInput(t *testing.T) {
	many := make([]domain.KeyDoor, 501)
	for i := range many {
		many[i] = domain.KeyDoor{DoorID: "dor_" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/26)}
	}
	for _, tc := range []struct {
		name  string
		in    domain.KeyInput
		field string
	}{
		{"OK", domain.KeyInput{Name: "Building", Doors: []domain.KeyDoor{{DoorID: "d1", Doorcodes: true}, {DoorID: "d2"}}}, ""},
		{"OKSchedule", domain.KeyInput{Name: "Gym", Doors: []domain.KeyDoor{{DoorID: "d1", Schedule: domain.Schedule{{Days: []string{"mon"}, Start: "06:00", End: "24:00"}}}}}, ""},
		{"ErrNameRequired", domain.KeyInput{Doors: []domain.KeyDoor{{DoorID: "d1"}}}, "name"},
		{"ErrNoDoors", domain.KeyInput{Name: "Empty"}, "doors"},
		{"ErrTooManyDoors", domain.KeyInput{Name: "Huge", Doors: many}, "doors"},
		{"ErrDoorIDMissing", domain.KeyInput{Name: "K", Doors: []domain.KeyDoor{{DoorID: ""}}}, "doors"},
		{"ErrDoorTwice", domain.KeyInput{Name: "K", Doors: []domain.KeyDoor{{DoorID: "d1"}, {DoorID: "d1", Doorcodes: true}}}, "doors"},
		{"ErrScheduleBad", domain.KeyInput{Name: "K", Doors: []domain.KeyDoor{{DoorID: "d1", Schedule: domain.Schedule{{Days: []string{"mon"}, Start: "09:00", End: "08:00"}}}}}, "doors.schedule[0].end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Normalize()
			if tc.field == "" {
				wantErr(t, err, "", "")
				return
			}
			wantErr(t, err, domain.EInvalid, tc.field)
		})
	}
}

func TestInviteInput(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(24*time.Hour), now.Add(-time.Hour)
	ok := func() domain.InviteInput {
		return domain.InviteInput{FirstName: "Ana", LastName: "Lopez", Email: "ana@example.com", Access: domain.AccessApp,
			Keys: []domain.GrantInput{{KeyID: "k1", MayShare: true}}}
	}
	tooManyKeys := make([]domain.GrantInput, 201)
	for i := range tooManyKeys {
		tooManyKeys[i] = domain.GrantInput{KeyID: strings.Repeat("k", i+1)}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*domain.InviteInput)
		field string
	}{
		{"OK", func(*domain.InviteInput) {}, ""},
		{"OKDoorcode", func(in *domain.InviteInput) { in.Access = domain.AccessDoorcode }, ""},
		{"OKNoKeys", func(in *domain.InviteInput) { in.Keys = nil }, ""},
		{"OKPhone", func(in *domain.InviteInput) { in.Phone = "+1 (555) 010-2030" }, ""},
		{"OKExpiry", func(in *domain.InviteInput) { in.ExpiresAt = &later }, ""},
		{"OKStartInPast", func(in *domain.InviteInput) { in.StartsAt = &earlier }, ""},
		{"ErrFirstNameRequired", func(in *domain.InviteInput) { in.FirstName = " " }, "first_name"},
		{"ErrLastNameRequired", func(in *domain.InviteInput) { in.LastName = "" }, "last_name"},
		{"ErrFirstNameTooLong", func(in *domain.InviteInput) { in.FirstName = strings.Repeat("é", 101) }, "first_name"},
		{"ErrLastNameNUL", func(in *domain.InviteInput) { in.LastName = "Lo\x00pez" }, "last_name"},
		{"ErrEmailRequired", func(in *domain.InviteInput) { in.Email = "" }, "email"},
		{"ErrEmailInvalid", func(in *domain.InviteInput) { in.Email = "ana@" }, "email"},
		{"ErrPhoneLetters", func(in *domain.InviteInput) { in.Phone = "call me" }, "phone"},
		{"ErrPhoneTooLong", func(in *domain.InviteInput) { in.Phone = strings.Repeat("1", 33) }, "phone"},
		{"ErrAccessRequired", func(in *domain.InviteInput) { in.Access = "" }, "access"},
		{"ErrAccessUnknown", func(in *domain.InviteInput) { in.Access = "keycard" }, "access"},
		{"ErrExpiryBeforeStart", func(in *domain.InviteInput) { in.ExpiresAt = &earlier }, "expires_at"},
		{"ErrExpiryEqualsStart", func(in *domain.InviteInput) { in.StartsAt, in.ExpiresAt = &later, &later }, "expires_at"},
		{"ErrKeyIDMissing", func(in *domain.InviteInput) { in.Keys = []domain.GrantInput{{}} }, "keys"},
		{"ErrKeyTwice", func(in *domain.InviteInput) { in.Keys = append(in.Keys, domain.GrantInput{KeyID: "k1"}) }, "keys"},
		{"ErrTooManyKeys", func(in *domain.InviteInput) { in.Keys = tooManyKeys }, "keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ok()
			tc.edit(&in)
			err := in.Normalize(now)
			if tc.field == "" {
				wantErr(t, err, "", "")
				if in.StartsAt == nil {
					t.Fatal("starts_at not filled")
				}
				return
			}
			wantErr(t, err, domain.EInvalid, tc.field)
		})
	}
	t.Run("OKStartDefaultsToNow", func(t *testing.T) {
		in := ok()
		in.Email = " ANA@Example.com"
		if err := in.Normalize(now); err != nil {
			t.Fatal(err)
		}
		if !in.StartsAt.Equal(now) || in.Email != "ana@example.com" {
			t.Fatalf("got start %v email %q", in.StartsAt, in.Email)
		}
	})
}

func TestPersonPatch(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(1, 0, 0)
	p := domain.Person{FirstName: "Ana", LastName: "Lopez", Email: "ana@example.com", StartsAt: start, ExpiresAt: &end}
	str := func(s string) *string { return &s }
	tm := func(t time.Time) *time.Time { return &t }
	for _, tc := range []struct {
		name     string
		patch    domain.PersonPatch
		field    string
		narrowed bool
		check    func(domain.Person) bool
	}{
		{"OKNoChange", domain.PersonPatch{}, "", false, func(n domain.Person) bool { return n.FirstName == "Ana" && n.ExpiresAt.Equal(end) }},
		{"OKContact", domain.PersonPatch{FirstName: str(" Anna "), Phone: str("555 0100"), Email: str("ANNA@example.com")}, "", false,
			func(n domain.Person) bool {
				return n.FirstName == "Anna" && n.Phone == "555 0100" && n.Email == "anna@example.com"
			}},
		{"OKExpiryLaterWidens", domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: tm(end.AddDate(1, 0, 0))}, "", false, nil},
		{"OKExpiryRemovedWidens", domain.PersonPatch{ExpiresAtSet: true}, "", false, func(n domain.Person) bool { return n.ExpiresAt == nil }},
		{"OKExpiryEarlierNarrows", domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: tm(end.AddDate(0, -1, 0))}, "", true, nil},
		{"OKStartLaterNarrows", domain.PersonPatch{StartsAt: tm(start.AddDate(0, 1, 0))}, "", true, nil},
		{"OKStartEarlierWidens", domain.PersonPatch{StartsAt: tm(start.AddDate(0, -1, 0))}, "", false, nil},
		{"OKResidentAndUnit", domain.PersonPatch{Resident: func() *bool { b := true; return &b }(), UnitID: str("unt_1")}, "", false,
			func(n domain.Person) bool { return n.Resident && n.UnitID == "unt_1" }},
		{"ErrFirstNameEmpty", domain.PersonPatch{FirstName: str(" ")}, "first_name", false, nil},
		{"ErrLastNameTooLong", domain.PersonPatch{LastName: str(strings.Repeat("x", 101))}, "last_name", false, nil},
		{"ErrEmailInvalid", domain.PersonPatch{Email: str("nope")}, "email", false, nil},
		{"ErrPhoneInvalid", domain.PersonPatch{Phone: str("abc")}, "phone", false, nil},
		{"ErrExpiryBeforeStart", domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: tm(start.Add(-time.Second))}, "expires_at", false, nil},
		{"ErrStartAfterExpiry", domain.PersonPatch{StartsAt: tm(end)}, "expires_at", false, nil},
		{"ErrExpiryInThePast", domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: tm(start.Add(-time.Hour))}, "expires_at", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, narrowed, err := tc.patch.Apply(p, start)
			if tc.field != "" {
				wantErr(t, err, domain.EInvalid, tc.field)
				if next.FirstName != p.FirstName || next.Email != p.Email {
					t.Fatal("a refused patch must return the person unchanged")
				}
				return
			}
			wantErr(t, err, "", "")
			if narrowed != tc.narrowed {
				t.Fatalf("narrowed = %v, want %v", narrowed, tc.narrowed)
			}
			if tc.check != nil && !tc.check(next) {
				t.Fatalf("patched person is %+v", next)
			}
		})
	}
}

func TestGrantChange(t *testing.T) {
	a := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b := a.Add(time.Hour)
	wantErr(t, domain.GrantChange{}.Validate(), "", "")
	wantErr(t, domain.GrantChange{StartsAt: &a, ExpiresAt: &b}.Validate(), "", "")
	wantErr(t, domain.GrantChange{StartsAt: &b, ExpiresAt: &a}.Validate(), domain.EInvalid, "expires_at")
	wantErr(t, domain.GrantChange{StartsAt: &a, ExpiresAt: &a}.Validate(), domain.EInvalid, "expires_at")
}

// TestCheckExpiry is the one rule for an expiry, shared by invite, edit
// and give-a-key: after the (effective) start, and in the future, with a
// message naming the start the request did not send.
func TestCheckExpiry(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	for _, tc := range []struct {
		name      string
		start     time.Time
		note      string
		end       *time.Time
		wantInMsg string
	}{
		{"OKNoExpiry", now, "", nil, ""},
		{"OKFuture", now.Add(-time.Hour), "", at(time.Hour), ""},
		{"ErrBeforeStart", now.Add(2 * time.Hour), "", at(time.Hour), "must be after starts_at"},
		{"ErrAtStart", now.Add(time.Hour), "", at(time.Hour), "must be after starts_at"},
		{"ErrPastWithDefaultedStart", now, "now, as starts_at was not given", at(-time.Hour), "must be in the future"},
		{"ErrBeforeDefaultedFutureStart", now.Add(48 * time.Hour), "the person's starts_at", at(time.Hour), "must be after the start of access, 2026-06-03T12:00:00Z (the person's starts_at)"},
		{"ErrPastAfterStart", now.Add(-48 * time.Hour), "", at(-time.Hour), "must be in the future (2026-06-01T11:00:00Z has passed)"},
		{"ErrNow", now.Add(-time.Hour), "", at(0), "must be in the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := domain.CheckExpiry(tc.start, tc.note, tc.end, now)
			if tc.wantInMsg == "" {
				wantErr(t, err, "", "")
				return
			}
			wantErr(t, err, domain.EInvalid, "expires_at")
			if !strings.Contains(err.Error(), tc.wantInMsg) {
				t.Errorf("message %q, want it to say %q", err, tc.wantInMsg)
			}
		})
	}
	t.Run("GrantChange", func(t *testing.T) {
		p := domain.Person{StartsAt: now.Add(-24 * time.Hour)}
		past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		wantErr(t, domain.GrantChange{ExpiresAt: &past}.Check(p, now), domain.EInvalid, "expires_at")
		wantErr(t, domain.GrantChange{ExpiresAt: at(time.Hour)}.Check(p, now), "", "")
		future := domain.Person{StartsAt: now.Add(48 * time.Hour)}
		err := domain.GrantChange{ExpiresAt: at(time.Hour)}.Check(future, now)
		wantErr(t, err, domain.EInvalid, "expires_at")
		if err != nil && !strings.Contains(err.Error(), "the person's starts_at") {
			t.Errorf("message %q does not name the person's start", err)
		}
		wantErr(t, domain.GrantChange{StartsAt: at(2 * time.Hour), ExpiresAt: at(time.Hour)}.Check(p, now), domain.EInvalid, "expires_at")
	})
	t.Run("InviteWithoutStart", func(t *testing.T) {
		in := domain.InviteInput{FirstName: "A", LastName: "B", Email: "a@example.com", Access: domain.AccessApp, ExpiresAt: at(-time.Hour)}
		err := in.Normalize(now)
		wantErr(t, err, domain.EInvalid, "expires_at")
		if err != nil && !strings.Contains(err.Error(), "must be in the future") {
			t.Errorf("message %q, want \"must be in the future\"", err)
		}
	})
}

func TestManagerInput(t *testing.T) {
	ok := func() domain.ManagerInput {
		return domain.ManagerInput{Email: "pm@example.com", FirstName: "Pat", LastName: "Manager", Role: domain.RolePropertyManager, Password: "long enough password"}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*domain.ManagerInput)
		field string
	}{
		{"OK", func(*domain.ManagerInput) {}, ""},
		{"OKNoPasswordMeansInvitation", func(in *domain.ManagerInput) { in.Password = "" }, ""},
		{"OKPortfolio", func(in *domain.ManagerInput) { in.Role = domain.RolePortfolioManager }, ""},
		{"ErrEmail", func(in *domain.ManagerInput) { in.Email = "pm" }, "email"},
		{"ErrFirstName", func(in *domain.ManagerInput) { in.FirstName = "" }, "first_name"},
		{"ErrLastName", func(in *domain.ManagerInput) { in.LastName = "" }, "last_name"},
		{"ErrRoleRequired", func(in *domain.ManagerInput) { in.Role = "" }, "role"},
		{"ErrRoleUnknown", func(in *domain.ManagerInput) { in.Role = "admin" }, "role"},
		{"ErrPasswordShort", func(in *domain.ManagerInput) { in.Password = "short" }, "password"},
		{"ErrPasswordHuge", func(in *domain.ManagerInput) { in.Password = strings.Repeat("p", 1025) }, "password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ok()
			tc.edit(&in)
			err := in.Normalize()
			if tc.field == "" {
				wantErr(t, err, "", "")
				return
			}
			wantErr(t, err, domain.EInvalid, tc.field)
		})
	}
	t.Run("ErrPasswordRequiredWhereNotOptional", func(t *testing.T) {
		wantErr(t, domain.CheckPassword("", false), domain.EInvalid, "password")
	})
}

func TestAssignmentValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    domain.Assignment
		field string
	}{
		{"OKNone", domain.Assignment{KeyManagement: domain.KeyManagementNone}, ""},
		{"OKLimited", domain.Assignment{KeyManagement: domain.KeyManagementLimited, DeviceManagement: true}, ""},
		{"OKFull", domain.Assignment{KeyManagement: domain.KeyManagementFull, CardActivation: true}, ""},
		{"OKSpecific", domain.Assignment{KeyManagement: domain.KeyManagementSpecific, Keys: []string{"k1"}}, ""},
		{"ErrSpecificWithoutKeys", domain.Assignment{KeyManagement: domain.KeyManagementSpecific}, "keys"},
		{"ErrKeysWithFull", domain.Assignment{KeyManagement: domain.KeyManagementFull, Keys: []string{"k1"}}, "keys"},
		{"ErrRequired", domain.Assignment{}, "key_management"},
		{"ErrUnknown", domain.Assignment{KeyManagement: "some"}, "key_management"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Validate()
			if tc.field == "" {
				wantErr(t, err, "", "")
				if tc.in.Keys == nil {
					t.Fatal("keys must be a non-nil list after Validate (JSON [] not null)")
				}
				return
			}
			wantErr(t, err, domain.EInvalid, tc.field)
		})
	}
}

func TestErrors(t *testing.T) {
	err := domain.FieldError("email", "%q is taken", "a@b.c")
	if got, want := err.Error(), `email: "a@b.c" is taken`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if domain.ErrorCode(err) != domain.EInvalid || domain.ErrorMessage(err) != err.Error() {
		t.Fatal("field error code/message")
	}
	wrapped := errorsJoin(err)
	if domain.ErrorCode(wrapped) != domain.EInvalid {
		t.Fatal("ErrorCode must see through wrapping")
	}
	plain := errPlain("disk on fire")
	if domain.ErrorCode(plain) != domain.EInternal || domain.ErrorMessage(plain) != "Internal error." {
		t.Fatal("an unexpected error must not leak its message")
	}
	if got := domain.Errorf(domain.ENotFound, "person %s not found", "p1").Error(); got != "person p1 not found" {
		t.Fatalf("Errorf without field = %q", got)
	}
}
