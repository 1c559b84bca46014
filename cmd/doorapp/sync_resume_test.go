package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// cutProxy forwards to target and drops the first connection after cut
// bytes from the phone, as a phone walking out of range does.
func cutProxy(t *testing.T, target string, cut int64) (addr string, cuts *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cuts = new(atomic.Int32)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	first := true
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			limit := int64(-1)
			if first {
				limit, first = cut, false
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(c, up); c.Close() }()
			go func() {
				defer wg.Done()
				defer up.Close()
				defer c.Close()
				if limit < 0 {
					io.Copy(up, c)
					return
				}
				io.CopyN(up, c, limit)
				cuts.Add(1)
			}()
		}
	}()
	return ln.Addr().String(), cuts
}

// TestSyncLargeSnapshotAcrossDrop: doorapp sync carries a snapshot too
// large for one message in chunks under the cloud's manifest; the link
// drops midway, doorapp reconnects, the lock resumes, and the door ends in
// sync with every doorcode.
func TestSyncLargeSnapshotAcrossDrop(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		f := w.e.F
		w.invite(map[string]any{"first_name": "Rita", "last_name": "Resident", "email": "rita@example.com", "access": "app", "resident": true,
			"keys": []map[string]any{{"key_id": f.Building.ID}}})
		const holders = 520
		for i := range holders {
			if _, err := st.Invite(context.Background(), f.PM, w.prop(), domain.InviteInput{FirstName: "Code", LastName: fmt.Sprintf("Holder%d", i),
				Email: fmt.Sprintf("holder%d@example.com", i), Access: domain.AccessDoorcode, Resident: true,
				Keys: []domain.GrantInput{{KeyID: f.Building.ID}}}); err != nil {
				t.Fatal(err)
			}
		}
		door := f.Lobby.ID
		sim := w.startLock(door)
		rita := w.phone()
		rita.login("rita@example.com", 1)
		addr, cuts := cutProxy(t, sim.BLEAddr, 9000)
		out := rita.must("sync", "--door", door, "--ble", addr, "--rate", "-1", "--retries", "2")
		if cuts.Load() != 1 || !strings.Contains(out, "link lost") || !strings.Contains(out, "reconnecting") {
			t.Fatalf("doorapp sync across a cut link (%d cuts):\n%s", cuts.Load(), out)
		}
		if r := regexp.MustCompile(`the lock has (\d+) of 5 chunks; resuming`).FindStringSubmatch(out); r == nil || r[1] == "0" {
			t.Fatalf("doorapp sync did not resume where the lock stood:\n%s", out)
		}
		m := regexp.MustCompile(`chunk (\d+) of (\d+) \(100%`).FindStringSubmatch(out)
		if m == nil || m[1] != m[2] || !strings.Contains(out, "acknowledged (applied)") {
			t.Fatalf("doorapp sync did not finish the chunked snapshot:\n%s", out)
		}
		if st := sim.Lock.Status(); st.Doorcodes < holders {
			t.Fatalf("lock holds %d doorcodes after the sync, want %d", st.Doorcodes, holders)
		}
		t.Logf("doorapp sync:\n%s", out)
	})
}
