package store

import (
	"context"

	"github.com/dooros/dooros/domain"
)

// scope is what the actor sees of a property in a view that needs p
// (domain.Actor.Scope) and the doors of that scope: doors is nil when the
// actor sees every door, else the set of doors of his keys (maybe empty).
func (t *Tx) scope(ctx context.Context, a domain.Actor, propertyID string, p domain.Permission) (domain.Scope, map[string]bool, error) {
	sc, err := a.Scope(propertyID, p)
	if err != nil || sc.All {
		return sc, nil, err
	}
	byID, _, err := t.loadKeys(ctx, propertyID, sc.Keys)
	if err != nil {
		return sc, nil, err
	}
	keys := make([]domain.Key, 0, len(byID))
	for _, k := range byID {
		keys = append(keys, k)
	}
	return sc, sc.Doors(keys), nil
}

// Scope answers what the actor sees of a property in a view that needs p
// and the doors of it (nil: every door); see domain.Actor.Scope. The
// reports cut themselves to it.
func (s *Store) Scope(ctx context.Context, a domain.Actor, propertyID string, p domain.Permission) (sc domain.Scope, doors map[string]bool, err error) {
	err = s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		sc, doors, err = t.scope(ctx, a, propertyID, p)
		return err
	})
	return sc, doors, err
}
