// Package exposuresim is the revocation exposure simulation of issue 11:
// how long after a revocation every door of a property refuses the
// revoked person, under three courier models, per door class. It is pure
// computation (no I/O), reproducible from a seed.
//
// The property: Residents residents assigned at random to Units unit doors
// (so some units have one resident, some none), UnitsPerFloor units to a
// floor, Entrances entrance doors and Amenities amenity doors, every door
// offline (synced only through phones). Every resident holds a key to
// the entrances, the amenities and their own unit. Unlocks are Poisson
// processes: EntrancePerDay per resident (spread over the entrances),
// AmenityPerDay per resident (spread over the amenities), UnitPerDay per
// resident at their unit. Revocations hit Revocations random residents at
// random times over Days days. A door's lock refuses the revoked person —
// doorcode included — once a courier delivers the revocation; the phone
// credential alone is refused after CredentialLifetime with no sync.
//
// What delivers the revocation to one of the person's doors, by model:
//
//   - today (key holders only): the next unlock there by another holder of
//     a key to that door; a unit whose only resident was revoked is never
//     synced (counted at Horizon);
//   - new (every phone + staff): the same, plus phones passing a unit door
//     with a pending revocation (each arrival of a resident of the same
//     floor passes it, within Bluetooth range with probability PassInRange),
//     plus the revoked person's own app (it applies its revocation before
//     any unlock attempt, at RevokedAttemptFactor of their usual rate),
//     plus the staff round once a day at StaffRoundHour;
//   - incumbent: only the revoked person's own unlock attempt or the manual
//     sync (the same daily staff round).
//
// The exponential draws are shared between models (common random numbers),
// so the models differ only by what they let deliver.
package exposuresim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Config is the simulated property and its habits.
type Config struct {
	Seed                                      uint64
	Residents, Units, UnitsPerFloor           int
	Entrances, Amenities                      int
	EntrancePerDay, AmenityPerDay, UnitPerDay float64
	Revocations, Days                         int
	PassInRange, RevokedAttemptFactor         float64
	StaffRoundHour                            int
	CredentialLifetime, Horizon               time.Duration
}

// Default is the property: 200 residents.
func Default(seed uint64) Config {
	return Config{Seed: seed, Residents: 200, Units: 100, UnitsPerFloor: 10, Entrances: 2, Amenities: 3,
		EntrancePerDay: 2, AmenityPerDay: 0.3, UnitPerDay: 3, Revocations: 1000, Days: 30,
		PassInRange: 0.5, RevokedAttemptFactor: 0.3, StaffRoundHour: 10,
		CredentialLifetime: 24 * time.Hour, Horizon: 60 * 24 * time.Hour}
}

// Models and door classes, in table order.
var (
	Models  = []string{"today", "new", "incumbent"}
	Classes = []string{"entrance", "amenity", "unit", "all doors"}
)

// Stats is a distribution of times until every door of a class refuses
// the revoked person.
type Stats struct {
	N                  int
	P50, P90, P99, Max time.Duration
	// Never counts revocations some door of the class never learnt within
	// the horizon (counted at the horizon in the percentiles).
	Never int
}

// Result is one run: Stats by model and class, and the credential bound.
type Result struct {
	Config Config
	Stats  map[string]map[string]Stats
	// PhoneMax is the longest any revoked phone credential alone still
	// opened a door (its last credential issued at a random time within a
	// lifetime before the revocation), over every model and door.
	PhoneMax time.Duration
	// BoundHolds reports PhoneMax <= CredentialLifetime.
	BoundHolds bool
}

// Run simulates cfg.
func Run(cfg Config) Result {
	r := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	unitOf := make([]int, cfg.Residents)
	perUnit := make([]int, cfg.Units)
	for i := range unitOf {
		unitOf[i] = r.IntN(cfg.Units)
		perUnit[unitOf[i]]++
	}
	perFloor := map[int]int{}
	for i := range unitOf {
		perFloor[unitOf[i]/cfg.UnitsPerFloor]++
	}
	day := 24 * time.Hour
	exp := func(perDay float64) time.Duration { // time to the next event of a Poisson process
		if perDay <= 0 {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(r.ExpFloat64() / perDay * float64(day))
	}
	samples := map[string]map[string][]time.Duration{}
	never := map[string]map[string]int{}
	for _, m := range Models {
		samples[m], never[m] = map[string][]time.Duration{}, map[string]int{}
	}
	var phoneMax time.Duration
	for range cfg.Revocations {
		p := r.IntN(cfg.Residents)
		at := time.Duration(r.Float64() * float64(cfg.Days) * float64(day))
		// Until the next staff round (rounds at StaffRoundHour every day).
		hour := time.Duration(cfg.StaffRoundHour) * time.Hour
		staff := (hour - at%day + day) % day
		if staff == 0 {
			staff = day
		}
		type door struct {
			class                  string
			holders, passers, self float64 // rates per day
		}
		others := float64(cfg.Residents - 1)
		var doors []door
		for range cfg.Entrances {
			doors = append(doors, door{"entrance", others * cfg.EntrancePerDay / float64(cfg.Entrances), 0, cfg.RevokedAttemptFactor * cfg.EntrancePerDay / float64(cfg.Entrances)})
		}
		for range cfg.Amenities {
			doors = append(doors, door{"amenity", others * cfg.AmenityPerDay / float64(cfg.Amenities), 0, cfg.RevokedAttemptFactor * cfg.AmenityPerDay / float64(cfg.Amenities)})
		}
		u := unitOf[p]
		floormates := float64(perFloor[u/cfg.UnitsPerFloor] - perUnit[u]) // residents of the floor's other units
		doors = append(doors, door{"unit", float64(perUnit[u]-1) * cfg.UnitPerDay, floormates * cfg.EntrancePerDay / 2 * cfg.PassInRange, cfg.RevokedAttemptFactor * cfg.UnitPerDay})
		// The phone's last credential was issued at a random time within a
		// lifetime before the revocation: alone it opens until it expires.
		phoneLeft := time.Duration((1 - r.Float64()) * float64(cfg.CredentialLifetime))
		worst := map[string]map[string]time.Duration{}
		for _, m := range Models {
			worst[m] = map[string]time.Duration{}
		}
		for _, d := range doors {
			h, pass, self := exp(d.holders), exp(d.passers), exp(d.self)
			times := map[string]time.Duration{
				"today":     h,
				"new":       min(h, pass, self, staff),
				"incumbent": min(self, staff),
			}
			for _, m := range Models {
				t := min(times[m], cfg.Horizon)
				worst[m][d.class] = max(worst[m][d.class], t)
				worst[m]["all doors"] = max(worst[m]["all doors"], t)
				phoneMax = max(phoneMax, min(t, phoneLeft))
			}
		}
		for _, m := range Models {
			for _, c := range Classes {
				t := worst[m][c]
				samples[m][c] = append(samples[m][c], t)
				if t >= cfg.Horizon {
					never[m][c]++
				}
			}
		}
	}
	res := Result{Config: cfg, Stats: map[string]map[string]Stats{}, PhoneMax: phoneMax, BoundHolds: phoneMax <= cfg.CredentialLifetime}
	for _, m := range Models {
		res.Stats[m] = map[string]Stats{}
		for _, c := range Classes {
			s := samples[m][c]
			slices.Sort(s)
			q := func(p float64) time.Duration { return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)] }
			res.Stats[m][c] = Stats{N: len(s), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: s[len(s)-1], Never: never[m][c]}
		}
	}
	return res
}

// Hours formats d in hours, or "never" at the horizon.
func hours(d, horizon time.Duration) string {
	if d >= horizon {
		return "never"
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}

// Table is the result as a Markdown table: one row per door class and
// model, p50/p90/p99/max hours until every door of that class refuses the
// revoked person, and how many revocations some door never learnt.
func (r Result) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| door class | model | p50 | p90 | p99 | max | never synced (of %d) |\n|---|---|---|---|---|---|---|\n", r.Config.Revocations)
	for _, c := range Classes {
		for _, m := range Models {
			s := r.Stats[m][c]
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d |\n", c, m, hours(s.P50, r.Config.Horizon), hours(s.P90, r.Config.Horizon),
				hours(s.P99, r.Config.Horizon), hours(s.Max, r.Config.Horizon), s.Never)
		}
	}
	fmt.Fprintf(&b, "\nRevoked phone refused offline within the credential lifetime with no sync: longest phone-only exposure %.1f h ≤ %.0f h: %v\n",
		r.PhoneMax.Hours(), r.Config.CredentialLifetime.Hours(), r.BoundHolds)
	return b.String()
}
