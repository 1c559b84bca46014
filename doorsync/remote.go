package doorsync

import (
	"context"
	"sync"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
)

// DefaultRemoteWait is how long RemoteUnlock waits for the lock's answer.
const DefaultRemoteWait = 10 * time.Second

// RemoteResult is what a remote unlock came to, as the lock signed it.
type RemoteResult struct {
	DoorID   string    `json:"door_id"`
	DoorName string    `json:"door_name"`
	Granted  bool      `json:"granted"`
	Reason   string    `json:"reason"`
	Counter  uint64    `json:"counter"`
	LockTime time.Time `json:"lock_time"`
}

// RemoteUnlock asks an online door's lock to open for the resident: the
// store signs a single-use command (store.IssueRemoteUnlock: same rules
// as a phone credential, the lock's next counter), it is published on
// the lock's command topic, and the lock's signed result, verified with
// the lock's key and bound to this command, is the answer. No answer
// within wait (DefaultRemoteWait when zero) is an ETimeout error; the
// command expires on its own within lockproto.DefaultRemoteUnlockLife.
func (s *Service) RemoteUnlock(ctx context.Context, r store.Resident, doorID string, wait time.Duration) (RemoteResult, error) {
	if s.client == nil {
		return RemoteResult{}, domain.Errorf(domain.EConflict, "remote unlock needs Door Sync's MQTT connection, which this server does not run")
	}
	if wait <= 0 {
		wait = DefaultRemoteWait
	}
	cmd, err := s.Store.IssueRemoteUnlock(ctx, s.Keys, r, doorID)
	if err != nil {
		return RemoteResult{}, err
	}
	topic, err := mqtt.Topic(mqtt.KindCommand, doorID)
	if err != nil {
		return RemoteResult{}, err
	}
	answers := s.remote.add(doorID)
	defer s.remote.remove(doorID, answers)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := s.client.Publish(ctx, topic, cmd.Command, 1, false); err != nil {
		return RemoteResult{}, domain.Errorf(domain.ETimeout, "%s: the command could not be sent to the lock (%v)", cmd.DoorName, err)
	}
	for {
		select {
		case <-ctx.Done():
			return RemoteResult{}, domain.Errorf(domain.ETimeout, "%s did not answer within %s; it may be offline", cmd.DoorName, wait)
		case body := <-answers:
			res, err := lockproto.VerifyRemoteResult(cmd.LockPublicKey, doorID, cmd.Command, body)
			if err != nil && cmd.PendingPublicKey != nil {
				res, err = lockproto.VerifyRemoteResult(cmd.PendingPublicKey, doorID, cmd.Command, body)
			}
			if err != nil {
				// Another command's answer, or a forgery: keep waiting.
				continue
			}
			return RemoteResult{DoorID: doorID, DoorName: cmd.DoorName, Granted: res.Granted, Reason: res.Reason,
				Counter: cmd.Counter, LockTime: res.LockTime}, nil
		}
	}
}

// remoteWaiters hands each lock's results to the requests waiting on it;
// every waiter of the lock sees every result and keeps the one that
// answers its own command.
type remoteWaiters struct {
	mu sync.Mutex
	m  map[string][]chan []byte
}

func (w *remoteWaiters) add(lockID string) chan []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string][]chan []byte{}
	}
	ch := make(chan []byte, 8)
	w.m[lockID] = append(w.m[lockID], ch)
	return ch
}

func (w *remoteWaiters) remove(lockID string, ch chan []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.m[lockID]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.m, lockID)
	} else {
		w.m[lockID] = list
	}
}

func (w *remoteWaiters) deliver(lockID string, body []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.m[lockID] {
		select {
		case ch <- body:
		default:
		}
	}
}
