package store

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// propertyClock is what a property's locks and phones are told about time
// and credential lifetimes beyond the property's settings.
type propertyClock struct {
	// retention is the longest credential lifetime the property ever
	// issued: how long a revocation must be kept.
	retention time.Duration
	epoch     uint64
}

// propertyClocks reads the clocks of the given properties.
func (t *Tx) propertyClocks(ctx context.Context, propertyIDs []string) (map[string]propertyClock, error) {
	out := map[string]propertyClock{}
	if len(propertyIDs) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, `SELECT id, credential_lifetime_max_hours, time_epoch FROM properties WHERE id IN (`+placeholders(len(propertyIDs))+`)`, anySlice(propertyIDs)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var hours int
		var epoch int64
		if err := rows.Scan(&id, &hours, &epoch); err != nil {
			return nil, err
		}
		out[id] = propertyClock{retention: time.Duration(hours) * time.Hour, epoch: uint64(epoch)}
	}
	return out, rows.Err()
}

// timeToken signs the cloud's time for a property's locks (§4.11): phones
// carry it in every unlock so a lock recovers from an RTC reset.
func (c propertyClock) timeToken(signer ed25519.PrivateKey, now time.Time) ([]byte, error) {
	return lockproto.IssueTimeToken(signer, now, c.epoch)
}
