package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

// A person types door and key names and local times, not ids and UTC:
// these resolve them against the resident's own access (GET /me/keys),
// in the property's time zone.

// myAccess is the resident's access at each property.
func (a *app) myAccess(ctx context.Context) ([]access, error) {
	var l list[access]
	if err := a.authed(ctx, "GET", "/api/v1/me/keys", nil, &l); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// resolveDoor turns a door name (any case) into its id; an id of one of
// the resident's doors is kept.
func resolveDoor(acc []access, v string) (string, error) {
	var ids, names []string
	for _, p := range acc {
		for _, k := range p.Keys {
			for _, d := range k.Doors {
				if d.DoorID == v {
					return v, nil
				}
				if strings.EqualFold(strings.TrimSpace(d.Name), strings.TrimSpace(v)) && !slices.Contains(ids, d.DoorID) {
					ids = append(ids, d.DoorID)
				}
				if !slices.Contains(names, d.Name) {
					names = append(names, d.Name)
				}
			}
		}
	}
	switch len(ids) {
	case 1:
		return ids[0], nil
	case 0:
		return "", fmt.Errorf("none of your doors is called %q; yours: %s", v, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("%d of your doors are called %q (at several properties): give the door's id", len(ids), v)
}

// resolveKey turns a key name into its id at the property (any, when
// propertyID is ""); the property it is at comes back too.
func resolveKey(acc []access, propertyID, v string) (keyID, property string, err error) {
	var names []string
	type hit struct{ key, prop string }
	var hits []hit
	for _, p := range acc {
		if propertyID != "" && p.PropertyID != propertyID {
			continue
		}
		for _, k := range p.Keys {
			if k.KeyID == v {
				return v, p.PropertyID, nil
			}
			if strings.EqualFold(strings.TrimSpace(k.Name), strings.TrimSpace(v)) {
				hits = append(hits, hit{k.KeyID, p.PropertyID})
			}
			names = append(names, k.Name)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0].key, hits[0].prop, nil
	case 0:
		return "", "", fmt.Errorf("you hold no key called %q; yours: %s", v, strings.Join(names, ", "))
	}
	return "", "", fmt.Errorf("%d of your keys are called %q (at several properties): add --property", len(hits), v)
}

// zoneOf is the time zone of a property of the resident (of the only one
// when propertyID is ""), UTC when unknown.
func zoneOf(acc []access, propertyID string) *time.Location {
	for _, p := range acc {
		if p.PropertyID == propertyID || (propertyID == "" && len(acc) == 1) {
			if loc, err := time.LoadLocation(p.TimeZone); err == nil {
				return loc
			}
		}
	}
	return time.UTC
}

// parseLocalTime reads a time a person types: "2026-12-24 18:00",
// "2026-12-24T18:00" or a date (its start) in loc, or RFC 3339 with a
// zone.
func parseLocalTime(v string, loc *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use YYYY-MM-DD HH:MM in the property's time zone (%s)", v, loc)
}

// refusal is a lock's refusal reason in words.
func refusal(reason string) string { return domain.RefusalText(reason) }

// doorID is the id of the door given by name or id. An id found in the
// stored credentials needs no server (an unlock works offline).
func (a *app) doorID(ctx context.Context, v string) (string, error) {
	var l list[storedCredential]
	if b, err := os.ReadFile(a.path(credentialsFile)); err == nil && json.Unmarshal(b, &l) == nil {
		for _, c := range l.Items {
			if slices.Contains(c.Doors, v) {
				return v, nil
			}
		}
	}
	acc, err := a.myAccess(ctx)
	if err != nil {
		return "", fmt.Errorf("door %q: %w", v, err)
	}
	id, err := resolveDoor(acc, v)
	if err != nil && strings.HasPrefix(v, "dor_") {
		// A door id the phone holds no key to: a courier's Door Sync
		// (the mailbox decides what it may carry there; an unlock finds
		// no credential for it and never reaches the lock).
		return v, nil
	}
	return id, err
}
