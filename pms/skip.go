package pms

import "fmt"

// WarningSkippedStatus is a roster resident left out because the
// property skips their lease status (SkipStatuses).
const WarningSkippedStatus AlertKind = "skipped_status"

// SkipStatuses drops the residents whose lease status a property chose
// to skip: each word is compared, after folding case and dropping
// everything but letters and digits, with the vendor's own status word
// and with the status it maps to (so "future" skips "Pending Move-in"
// too). Each dropped resident gets a warning. Words that mean a past
// lease are refused before they get here (MeansPast).
func SkipStatuses(r Roster, words []string) (Roster, []ParseWarning) {
	if len(words) == 0 {
		return r, nil
	}
	skip := make(map[string]bool, len(words))
	for _, w := range words {
		skip[norm(w)] = true
	}
	var warns []ParseWarning
	kept := make([]Resident, 0, len(r.Residents))
	for i, res := range r.Residents {
		if skip[res.VendorStatus] || skip[string(res.Status)] {
			warns = append(warns, ParseWarning{Record: i + 1, ExternalID: res.ExternalID, Field: "status",
				Reason: fmt.Sprintf("status %q is skipped by this property's PMS settings", res.VendorStatus)})
			continue
		}
		kept = append(kept, res)
	}
	r.Residents = kept
	return r, warns
}

// MeansPast reports whether some adapter reads word as a past lease.
// Skipping such a status would keep moved-out residents' access, since a
// past lease is what revokes it.
func MeansPast(word string) bool {
	w := norm(word)
	if w == string(StatusPast) {
		return true
	}
	for _, m := range []statusMap{commonStatuses, yardiStatuses, realpageStatuses, entrataStatuses, appfolioStatuses, mriStatuses, genericStatuses} {
		if m[w] == StatusPast {
			return true
		}
	}
	return false
}
