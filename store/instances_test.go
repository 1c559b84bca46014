package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// An instance with the embedded MQTT broker must be alone on its
// database; instances with an external broker run side by side; a stopped
// or long-silent instance no longer counts.
func TestRegisterInstance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if st.Dialect() != store.Postgres {
			// One SQLite file is one machine: nothing is refused there.
			for _, id := range []string{"s1", "s2"} {
				if err := st.RegisterInstance(ctx, domain.Instance{ID: id, Host: "h", Addr: "127.0.0.1:0", EmbeddedBroker: true}); err != nil {
					t.Fatalf("SQLite: %v", err)
				}
			}
			return
		}
		now := time.Now()
		st.Now = func() time.Time { return now }
		inst := func(id string, embedded bool) domain.Instance {
			return domain.Instance{ID: id, Host: "host-" + id, Addr: "127.0.0.1:8080", EmbeddedBroker: embedded}
		}
		refused := func(self domain.Instance, want string) {
			t.Helper()
			err := st.RegisterInstance(ctx, self)
			if domain.ErrorCode(err) != domain.EConflict || !strings.Contains(err.Error(), want) {
				t.Fatalf("RegisterInstance(%s, embedded %v) = %v, want a conflict naming %q", self.ID, self.EmbeddedBroker, err, want)
			}
		}
		if err := st.RegisterInstance(ctx, inst("a", true)); err != nil {
			t.Fatal(err)
		}
		refused(inst("b", true), "--mqtt-url")
		refused(inst("c", false), "embedded MQTT broker")
		if err := st.RemoveInstance(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"x1", "x2"} {
			if err := st.RegisterInstance(ctx, inst(id, false)); err != nil {
				t.Fatalf("external-broker instance %s: %v", id, err)
			}
		}
		refused(inst("e", true), "x1")
		// x1 and x2 stop beating; x2 beats once more later.
		now = now.Add(store.InstanceLiveFor / 2)
		if err := st.BeatInstance(ctx, inst("x2", false)); err != nil {
			t.Fatal(err)
		}
		now = now.Add(store.InstanceLiveFor/2 + time.Second)
		refused(inst("e", true), "x2")
		now = now.Add(store.InstanceLiveFor)
		if err := st.RegisterInstance(ctx, inst("e", true)); err != nil {
			t.Fatalf("instances silent for longer than InstanceLiveFor still count: %v", err)
		}
		// e is killed (its row stays) and started again at once on the
		// same host and address: its old row is its own, not another
		// instance.
		restarted := inst("e2", true)
		restarted.Host = "host-e"
		if err := st.RegisterInstance(ctx, restarted); err != nil {
			t.Fatalf("a restart on the same address is refused: %v", err)
		}
		other := inst("f", true)
		other.Host = "host-e"
		other.Addr = "127.0.0.1:9090"
		refused(other, "e2")
	})
}
