package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/dooros/dooros/keyring"
)

// PropertyKey returns a property's stored public key and sealed private
// key, or keyring.ErrNoKey (keyring.Storage).
func (s *Store) PropertyKey(ctx context.Context, propertyID string) (string, string, error) {
	var pub, sealed string
	err := s.queryRow(ctx, `SELECT public_key, private_key FROM property_keys WHERE property_id = ?`, propertyID).Scan(&pub, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", keyring.ErrNoKey
	}
	return pub, sealed, err
}

// PutPropertyKey stores a property's key unless one exists, and returns
// the stored one, so servers creating a key at the same time agree on the
// first (keyring.Storage).
func (s *Store) PutPropertyKey(ctx context.Context, propertyID, pub, sealed string) (string, string, error) {
	err := s.inTx(ctx, "put_property_key", func(t *Tx) error {
		var n int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM properties WHERE id = ?`, propertyID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return errors.New("store: no such property " + propertyID)
		}
		_, err := t.exec(ctx, `INSERT INTO property_keys (property_id, public_key, private_key, created_at) VALUES (?,?,?,?)
			ON CONFLICT (property_id) DO NOTHING`, propertyID, pub, sealed, micros(s.Now()))
		return err
	})
	if err != nil {
		return "", "", err
	}
	return s.PropertyKey(ctx, propertyID)
}
