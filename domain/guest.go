package domain

import "time"

// Host is a person inviting a guest, with their grants.
type Host struct {
	Person Person
	Grants []Grant
}

// CheckInviter decides whether host may invite guests from the DOOR App:
// only DOOR App users may.
func CheckInviter(host Person) error {
	if host.Access != AccessApp {
		return Errorf(EForbidden, "only DOOR App users invite guests")
	}
	return nil
}

// CheckGuestWindow decides whether a guest of host may have the access
// window guest: it must stay inside the host's own window.
func CheckGuestWindow(host Person, guest Window) error {
	if !guest.Within(host.Window()) {
		return FieldError("expires_at", "a guest's access must stay inside %s's own window", host.Name())
	}
	return nil
}

// CheckGuest decides whether host may invite a guest with this invite. A guest
// never gets more than the host's own doors (only keys the host may share) and
// time window (inside the host's effective window on each key).
func CheckGuest(host Host, in *InviteInput, now time.Time) error {
	p := host.Person
	if p.InvitedBy != "" {
		return FieldError("invited_by", "a guest cannot invite guests")
	}
	if !p.Status(now).HoldsAccess() {
		return FieldError("invited_by", "%s is %s and cannot invite guests", p.Name(), p.Status(now))
	}
	if len(in.Keys) == 0 {
		return FieldError("keys", "a guest needs at least one of the host's shareable keys")
	}
	if in.StartsAt.After(now.Add(MaxGuestLeadTime)) {
		return FieldError("starts_at", "a guest's access may start at most a year ahead")
	}
	guest := Window{Start: *in.StartsAt, End: in.ExpiresAt}
	for i := range in.Keys {
		k := &in.Keys[i]
		var g *Grant
		for j := range host.Grants {
			if host.Grants[j].KeyID == k.KeyID {
				g = &host.Grants[j]
			}
		}
		if g == nil {
			return FieldError("keys", "%s does not hold key %s", p.Name(), k.KeyID)
		}
		if !g.MayShare {
			return Errorf(EForbidden, "%s may not share key %s", p.Name(), k.KeyID)
		}
		hw := g.EffectiveWindow(p)
		if guest.Start.Before(hw.Start) {
			return FieldError("starts_at", "must not be before the host's own access starts (%s)", hw.Start.UTC().Format(time.RFC3339))
		}
		if hw.End != nil && (guest.End == nil || guest.End.After(*hw.End)) {
			return FieldError("expires_at", "must not be after the host's own access ends (%s)", hw.End.UTC().Format(time.RFC3339))
		}
		// Guests never re-share.
		k.MayShare = false
	}
	return nil
}
