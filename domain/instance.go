package domain

import (
	"fmt"
	"strings"
	"time"
)

// Instance is one running `dooros serve` on a database.
type Instance struct {
	ID             string
	Host, Addr     string
	EmbeddedBroker bool
	StartedAt      time.Time
	HeartbeatAt    time.Time
}

// CheckInstances decides whether self may run beside the live instances
// others. An embedded MQTT broker lives in one process: locks connect to
// one instance's broker, while any instance may claim a push from the
// shared outbox and publish it on its own broker, where the lock is not;
// the push then waits for retries (6-30 s observed) with nobody told. So
// an instance with the embedded broker must be alone on its database, and
// several instances share one external broker (--mqtt-url).
func CheckInstances(self Instance, others []Instance) error {
	if len(others) == 0 {
		return nil
	}
	var embedded, names []string
	for _, o := range others {
		name := fmt.Sprintf("%s (%s on %s, heartbeat %s)", o.ID, o.Addr, o.Host, o.HeartbeatAt.UTC().Format(time.RFC3339))
		names = append(names, name)
		if o.EmbeddedBroker {
			embedded = append(embedded, name)
		}
	}
	switch {
	case self.EmbeddedBroker:
		return Errorf(EConflict, "another dooros serve runs on this database (%s): several instances must share one external MQTT broker: start every instance with --mqtt-url (README, PostgreSQL); an instance stopped uncleanly counts as running for a short while", strings.Join(names, "; "))
	case len(embedded) > 0:
		return Errorf(EConflict, "a dooros serve with the embedded MQTT broker runs on this database (%s): stop it and start every instance with --mqtt-url", strings.Join(embedded, "; "))
	}
	return nil
}
