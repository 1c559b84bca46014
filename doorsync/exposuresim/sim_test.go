package exposuresim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/doorsync/exposuresim"
)

// The same seed gives the same table; the new model is never slower than
// today's for any percentile (it only adds couriers); a unit whose only
// resident is revoked is never synced today and always within a day by
// the staff round in the new model; the phone-only bound holds.
func TestSimulation(t *testing.T) {
	cfg := exposuresim.Default(7)
	cfg.Revocations = 300
	a, b := exposuresim.Run(cfg), exposuresim.Run(cfg)
	if a.Table() != b.Table() {
		t.Fatal("same seed, different tables")
	}
	if c := exposuresim.Run(func() exposuresim.Config { c := cfg; c.Seed = 8; return c }()); c.Table() == a.Table() {
		t.Fatal("another seed, same table")
	}
	for _, class := range exposuresim.Classes {
		today, nw := a.Stats["today"][class], a.Stats["new"][class]
		if nw.P50 > today.P50 || nw.P90 > today.P90 || nw.P99 > today.P99 || nw.Max > today.Max {
			t.Errorf("%s: new %+v slower than today %+v", class, nw, today)
		}
		if nw.Max > 24*time.Hour || nw.Never != 0 {
			t.Errorf("%s: new model past the daily staff round: %+v", class, nw)
		}
	}
	if a.Stats["today"]["unit"].Never == 0 {
		t.Error("no revoked only-resident unit left unsynced today (200 residents over 100 units must leave some)")
	}
	if !a.BoundHolds || a.PhoneMax > cfg.CredentialLifetime {
		t.Errorf("phone-only exposure %v over the credential lifetime", a.PhoneMax)
	}
	if !strings.Contains(a.Table(), "| unit | today |") {
		t.Errorf("table:\n%s", a.Table())
	}
}
