package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestInitRace: several first runs at once (two browsers on the install
// page, or the page and `dooros init`) make exactly one organisation and
// one Portfolio Manager; every other one hears a conflict.
func TestInitRace(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if ok, err := st.Initialized(ctx); err != nil || ok {
			t.Fatalf("fresh database: Initialized = %v, %v", ok, err)
		}
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = st.Init(ctx, fmt.Sprintf("Org %d", i), domain.ManagerInput{Email: fmt.Sprintf("pm%d@example.com", i), Password: storetest.PMPassword, FirstName: "Pat", LastName: "Lee"})
			}()
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("Init %d and %d both succeeded", won, i)
			case err == nil:
				won = i
			case domain.ErrorCode(err) != domain.EConflict || err.Error() != "this database already has an organisation":
				t.Errorf("Init %d: %v, want a conflict", i, err)
			}
		}
		if won < 0 {
			t.Fatal("no Init succeeded")
		}
		if ok, err := st.Initialized(ctx); err != nil || !ok {
			t.Fatalf("after Init: Initialized = %v, %v", ok, err)
		}
		org, err := st.Organisation(ctx)
		if err != nil || org.Name != fmt.Sprintf("Org %d", won) {
			t.Fatalf("organisation %+v, %v; want Org %d", org, err, won)
		}
		for i := range n {
			_, _, err := st.Login(ctx, fmt.Sprintf("pm%d@example.com", i), storetest.PMPassword, store.TokenKindSession)
			if (err == nil) != (i == won) {
				t.Errorf("login of pm%d: %v (winner %d)", i, err, won)
			}
		}
	})
}
