package console

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// Activity for people: each entry as When · Door · Person · What · How,
// in words ("Ana Garcia opened Gym", How "DOOR App"; "Unknown doorcode at
// Main Entrance"). Serial numbers, codes and lock event numbers stay in
// the entry's detail view.

// systemKinds are Door Sync's own bookkeeping (a lock acknowledged a
// version, applied a bundle, logged something of its own): hidden from
// Activity unless "Show Door Sync events" is ticked or the kind is asked
// for. Refusals, log gaps and keypad alerts stay visible.
var systemKinds = []string{domain.EventDoorSynced, store.EventBundleApplied, store.EventLockEvent}

type activityRow struct {
	domain.Event
	Door   string // the door's name, "" for none
	What   string
	How    string
	System bool
}

// lockDetail reads the detail store.lockEvent writes for a lock's unlock
// or denial: "unlocked with app REF", "denied doorcode: unknown_code",
// then optionally ", repeated N times until RFC3339" and always
// " (lock event N)".
var lockDetail = regexp.MustCompile(`^(?:unlocked with (\w+)|denied (\w+): (\w*))(?: (.+?))?(?:, repeated (\d+) times until (\S+))? \(lock event \d+\)$`)

// invitedDetail is domain's person.invited detail: "invited EMAIL (app, 2 keys)".
// (domain.PlanInvite) and "invited EMAIL as a guest of HOST (app, 1 keys)",
// each optionally followed by ", starting RFC3339".
var invitedDetail = regexp.MustCompile(`^invited \S+( as a guest of .+)? \((\w+), (\d+) keys\)(?:, starting (\S+))?$`)

// lockEventSuffix is the lock's event number a detail ends with.
var lockEventSuffix = regexp.MustCompile(` \(lock event \d+\)$`)

// activityRows puts events into words; doors names the property's doors.
func activityRows(events []domain.Event, doors map[string]domain.Door, loc *time.Location) []activityRow {
	out := make([]activityRow, 0, len(events))
	for _, e := range events {
		r := activityRow{Event: e, System: slices.Contains(systemKinds, e.Kind)}
		if e.DoorID != "" {
			r.Door = doors[e.DoorID].Name
			if r.Door == "" {
				r.Door = "a removed door"
			}
		}
		r.What, r.How = describe(e, r.Door, loc)
		out = append(out, r)
	}
	return out
}

func describe(e domain.Event, door string, loc *time.Location) (what, how string) {
	who := e.PersonName
	switch e.Kind {
	case domain.EventDoorUnlocked, domain.EventDoorDenied:
		m := lockDetail.FindStringSubmatch(e.Detail)
		if m == nil {
			// Not from a lock's log (an entry added by a worker or the
			// demo): the door and person still make the sentence.
			subject := "Someone"
			if who != "" {
				subject = who
			}
			if e.Kind == domain.EventDoorUnlocked {
				return subject + " opened " + door, credentialIn(e.Detail)
			}
			why := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(e.Detail, "denied"), ":"))
			return subject + " was refused at " + door + ": " + why, credentialIn(e.Detail)
		}
		cred, reason := m[1]+m[2], m[3]
		how = domain.CredentialText(cred)
		if e.Kind == domain.EventDoorUnlocked {
			if who != "" {
				what = who + " opened " + door
			} else {
				what = "Opened " + door
			}
		} else {
			switch {
			case who == "" && reason == "unknown_code":
				what = "Unknown doorcode at " + door
			case who == "" && reason == "unknown_card":
				what = "Unknown keycard at " + door
			case who != "":
				what = who + " was refused at " + door + ": " + domain.RefusalText(reason)
			default:
				what = "Refused at " + door + ": " + domain.RefusalText(reason)
			}
		}
		if m[5] != "" {
			n, _ := strconv.Atoi(m[5])
			what += ", " + strconv.Itoa(n+1) + " times"
			if until, err := time.Parse(time.RFC3339, m[6]); err == nil {
				what += " until " + until.In(loc).Format("15:04")
			}
		}
		return what, how
	case domain.EventPersonInvited, domain.EventGuestInvited:
		if m := invitedDetail.FindStringSubmatch(e.Detail); m != nil && who != "" {
			n, _ := strconv.Atoi(m[3])
			keys := strconv.Itoa(n) + " keys"
			if n == 1 {
				keys = "1 key"
			}
			access := "the DOOR App"
			if m[2] == string(domain.AccessDoorcode) {
				access = "a doorcode only"
			}
			what := e.Actor + " invited " + who + m[1] + " (" + access + ", " + keys
			if start, err := time.Parse(time.RFC3339, m[4]); err == nil {
				what += ", starting " + start.In(loc).Format("2006-01-02 15:04")
			}
			return what + ")", ""
		}
	case domain.EventKeyGiven, domain.EventKeyTaken, domain.EventPersonRevoked, domain.EventPersonDeleted:
		if who != "" {
			switch {
			case strings.HasPrefix(e.Detail, "gave key "):
				return e.Actor + " " + e.Detail + " to " + who, ""
			case strings.HasPrefix(e.Detail, "took key "):
				return e.Actor + " " + e.Detail + " from " + who, ""
			case strings.HasPrefix(e.Detail, "revoked all keys"):
				return e.Actor + " revoked all keys of " + who + strings.TrimPrefix(e.Detail, "revoked all keys"), ""
			case strings.HasPrefix(e.Detail, "deleted person"):
				return e.Actor + " deleted " + who + strings.TrimPrefix(e.Detail, "deleted person"), ""
			}
		}
	case store.EventKeycardActivated:
		// The serial stays in the detail view.
		if strings.Contains(e.Detail, "secure keycard") || strings.HasSuffix(e.Detail, " secure") {
			return e.Actor + " activated a secure keycard for " + who, "Keycard"
		}
		return e.Actor + " activated a keycard for " + who, "Keycard"
	case store.EventKeycardDeactivated:
		return e.Actor + " deactivated the keycard of " + who, "Keycard"
	case store.EventLockProvisioned:
		verb := "provisioned"
		if strings.HasPrefix(e.Detail, "lock re-provisioned") {
			verb = "re-provisioned (the old device no longer works)"
		}
		return e.Actor + " " + verb + " the lock of " + door, ""
	case store.EventKeypadLocked:
		return "Keypad of " + door + " locked after repeated wrong codes", "Doorcode"
	case store.EventKeypadAlert:
		return "Codes are being guessed at the keypad of " + door, "Doorcode"
	}
	if e.ActorID != "" || !strings.HasPrefix(e.Actor, "lock ") {
		// A manager's change ("Pat Lee created key Residents") or a
		// worker's ("Door Sync: event log of … has a gap").
		if e.ActorID != "" {
			return e.Actor + " " + e.Detail, ""
		}
		if e.Actor != "" {
			return e.Actor + ": " + e.Detail, ""
		}
	}
	return upperFirst(e.Detail), ""
}

// credentialIn names the credential a free-text detail mentions, if any.
func credentialIn(detail string) string {
	d := strings.ToLower(detail)
	for _, c := range []struct{ word, name string }{{"door app", "DOOR App"}, {"doorcode", "Doorcode"}, {"keycard", "Keycard"}, {"day code", "Guest day code"}} {
		if strings.Contains(d, c.word) {
			return c.name
		}
	}
	return ""
}

func upperFirst(s string) string {
	s = lockEventSuffix.ReplaceAllString(s, "")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
