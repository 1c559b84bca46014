package domain_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

func TestCourierRules(t *testing.T) {
	for _, c := range []struct{ property, want time.Duration }{{0, time.Hour}, {24 * time.Hour, time.Hour}, {30 * time.Minute, 30 * time.Minute}} {
		if got := domain.CourierLifetime(c.property); got != c.want {
			t.Errorf("CourierLifetime(%v) = %v, want %v", c.property, got, c.want)
		}
	}
	for _, s := range []domain.Status{domain.StatusActive, domain.StatusPending, domain.StatusRevoked, domain.StatusDeleted, domain.StatusExpired} {
		syncOnly, stale := domain.CouriersFor(s)
		if syncOnly != s.HoldsAccess() || stale == syncOnly {
			t.Errorf("CouriersFor(%s) = %v, %v", s, syncOnly, stale)
		}
	}
	if ts := domain.SharedDoorTypes(); len(ts) != 2 || ts[0] != domain.DoorEntrance || ts[1] != domain.DoorCommunal {
		t.Errorf("SharedDoorTypes = %v", ts)
	}
}
