package doorsync

import (
	"context"
	"crypto/ed25519"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Revocation notices (lockproto/notice.go): the moment a transaction that
// narrowed someone's access commits (store.OnRevocation), every online lock
// of the doors it changed gets one small message naming the people to
// refuse until the lock applies the door version the change made. The
// notice is signed once per property and set of people and sealed per lock
// (no bundle is built, nothing is stored), so the refusal reaches every
// lock within about one broker fan-out of the commit, while the bundles —
// the durable record, acknowledged and retried — follow through the
// outbox as before. A notice that is lost costs nothing but speed.

var noticesSent = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "dooros_doorsync_revocation_notices_total",
	Help: "Revocation notices for online locks, by outcome: published; skipped (no lock key at hand, or a property key rotation under way: the bundle alone revokes); failed (signing, sealing or the broker refused).",
}, []string{"outcome"})

var noticeRoundSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "dooros_doorsync_revocation_notice_round_seconds",
	Help:    "From the commit of a revocation to its last revocation notice handed to the broker (lock keys read, notice signed, sealed per lock, published).",
	Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
})

// noticePublishTimeout bounds one notice's publish (the connection may
// drop during a round): a notice held longer is worth little, its bundle
// follows.
const noticePublishTimeout = time.Second

// noticeWorkers publish a round's notices in parallel.
const noticeWorkers = 16

// notices queues the doors of committed revocations for noticeLoop.
type notices struct {
	mu    sync.Mutex
	doors []store.RevokedDoor
	wake  chan struct{}
	// round is open while queued notices wait to be published (end closes
	// it; nil when none are queued). The pusher and the inbound workers
	// wait for it: the notices are the revocation's critical path and
	// need the cores for a moment; bundles and acks follow.
	round pushGate
	end   func()
	// since is when the first of the queued revocations committed.
	since time.Time
}

// noticeWaitMax bounds how long the pusher or an inbound group waits for a
// round of notices (≈ 0.2 s at 1,000 locks, 0.9 s at 3,000 on 2 cores).
const noticeWaitMax = 2 * time.Second

// queueNotices is the store.OnRevocation hook: it only queues (it runs on
// the committing goroutine, before the commit wakes the pusher).
func (s *Service) queueNotices(doors []store.RevokedDoor) {
	s.notices.mu.Lock()
	s.notices.doors = append(s.notices.doors, doors...)
	if s.notices.end == nil {
		s.notices.end, s.notices.since = s.notices.round.begin(), time.Now()
	}
	s.notices.mu.Unlock()
	select {
	case s.notices.wake <- struct{}{}:
	default:
	}
}

// noticeLoop publishes queued notices until ctx ends.
func (s *Service) noticeLoop(ctx context.Context, client *mqtt.Client) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notices.wake:
		}
		s.notices.mu.Lock()
		doors, end, since := s.notices.doors, s.notices.end, s.notices.since
		s.notices.doors, s.notices.end = nil, nil
		s.notices.mu.Unlock()
		if len(doors) > 0 {
			s.sendNotices(ctx, client, doors)
			noticeRoundSeconds.Observe(time.Since(since).Seconds())
		}
		if end != nil {
			end()
		}
	}
}

// noticeItem is one sealed notice on its way to one lock.
type noticeItem struct {
	doorID string
	sealed []byte
}

// sendNotices signs, seals and publishes the notices of doors.
func (s *Service) sendNotices(ctx context.Context, client *mqtt.Client, doors []store.RevokedDoor) {
	if !client.State().Up {
		// The broker is away: nothing would reach a lock now, and a
		// publish would wait for the connection. The bundles wait in the
		// outbox and revoke when it is back.
		noticesSent.WithLabelValues("skipped").Add(float64(len(doors)))
		return
	}
	now := s.Store.Now()
	// Locks not cached yet are read in one query.
	var missing []string
	for _, d := range doors {
		if _, ok := s.locks.m.Load(d.DoorID); !ok {
			missing = append(missing, d.DoorID)
		}
	}
	if len(missing) > 0 {
		infos, err := s.Store.Locks(ctx, missing)
		if err != nil {
			s.Log.Warn("revocation notices: reading locks", "err", err)
		}
		for _, li := range infos {
			s.cacheLock(&cachedLock{LockInfo: li})
		}
	}
	type group struct {
		propertyID string
		names      noticeNames
		doors      []store.RevokedDoor
	}
	groups := map[string]*group{}
	var order []string
	for _, d := range doors {
		v, ok := s.locks.m.Load(d.DoorID)
		if !ok {
			continue // no provisioned lock
		}
		cl := v.(*cachedLock)
		if cl.Connectivity != domain.Online {
			continue // phones carry the bundle; nothing to publish
		}
		names := noticeNames{sortedSet(d.PersonIDs), sortedSet(d.DayKeys), sortedSet(d.Cards), sortedSet(d.Doorcodes)}
		key := cl.PropertyID + "\x00" + names.key()
		g := groups[key]
		if g == nil {
			g = &group{propertyID: cl.PropertyID, names: names}
			groups[key] = g
			order = append(order, key)
		}
		g.doors = append(g.doors, d)
	}
	items := make(chan noticeItem, noticeWorkers)
	var wg sync.WaitGroup
	for range noticeWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range items {
				// QoS 0: a notice is best effort (the bundle behind it is
				// acknowledged and retried), so neither the broker nor the
				// lock keeps in-flight state or sends a PUBACK for it, and
				// on an external broker no publisher waits a round trip.
				pctx, cancel := context.WithTimeout(ctx, noticePublishTimeout)
				err := client.Publish(pctx, mqtt.MustTopic(mqtt.KindBundle, it.doorID), it.sealed, 0, false)
				cancel()
				if err != nil {
					noticesSent.WithLabelValues("failed").Inc()
					s.Log.Debug("revocation notice not published", "door", it.doorID, "err", err)
					continue
				}
				noticesSent.WithLabelValues("published").Inc()
			}
		}()
	}
	defer func() {
		close(items)
		wg.Wait()
	}()
	signers := map[string]ed25519.PrivateKey{}
	for _, key := range order {
		g := groups[key]
		signer, ok := signers[g.propertyID]
		if !ok {
			keys, err := s.Keys.PropertySigners(ctx, g.propertyID)
			switch {
			case err != nil:
				s.Log.Warn("revocation notices: property key", "property", g.propertyID, "err", err)
			case len(keys) == 1:
				signer = keys[0]
			default:
				// A property key rotation is under way: each lock trusts
				// one of two keys. The bundles (signed per lock with the
				// right one) revoke alone until it ends.
			}
			signers[g.propertyID] = signer
		}
		if signer == nil {
			noticesSent.WithLabelValues("skipped").Add(float64(len(g.doors)))
			continue
		}
		for _, n := range g.names.notices(now) {
			signed, err := lockproto.SignRevocationNotice(signer, n)
			if err != nil {
				noticesSent.WithLabelValues("failed").Add(float64(len(g.doors)))
				s.Log.Warn("revocation notice not signed", "err", err)
				continue
			}
			for _, d := range g.doors {
				v, _ := s.locks.m.Load(d.DoorID)
				cl := v.(*cachedLock)
				sym, _, err := cl.symmetric(s.Keys, d.DoorID)
				if err != nil {
					noticesSent.WithLabelValues("skipped").Inc()
					continue
				}
				sealed, err := lockproto.SealRevocationNotice(signed, d.DoorID, sym, uint64(d.Version))
				if err != nil {
					noticesSent.WithLabelValues("failed").Inc()
					continue
				}
				select {
				case items <- noticeItem{doorID: d.DoorID, sealed: sealed}:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

// noticeNames is what a revocation narrowed at a door, each list sorted
// and without duplicates: doors with the same names share one signature.
type noticeNames struct{ persons, dayKeys, cards, doorcodes []string }

func sortedSet(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}

func (n noticeNames) key() string {
	parts := make([]string, 0, 4)
	for _, list := range [][]string{n.persons, n.dayKeys, n.cards, n.doorcodes} {
		parts = append(parts, strings.Join(list, "\x00"))
	}
	return strings.Join(parts, "\x01")
}

// notices splits the names into notices of at most
// lockproto.MaxNoticeNames names each, issued at now. People go in notices
// of their own: a lock from before day keys, cards and doorcodes (fields
// 3–5) refuses a notice holding any of them, and must still get the
// people-only notices it takes. Everything else shares the notices after
// them.
func (n noticeNames) notices(now time.Time) []lockproto.RevocationNotice {
	var out []lockproto.RevocationNotice
	cur := lockproto.RevocationNotice{IssuedAt: now}
	flush := func() {
		if cur.Names() > 0 {
			out = append(out, cur)
		}
		cur = lockproto.RevocationNotice{IssuedAt: now}
	}
	// to points into cur, which flush replaces in place.
	for i, list := range []struct {
		names []string
		to    *[]string
	}{{n.persons, &cur.Persons}, {n.dayKeys, &cur.DayKeys}, {n.cards, &cur.Cards}, {n.doorcodes, &cur.Doorcodes}} {
		if i == 1 {
			flush() // the people end here
		}
		for _, name := range list.names {
			if cur.Names() == lockproto.MaxNoticeNames {
				flush()
			}
			*list.to = append(*list.to, name)
		}
	}
	flush()
	return out
}
