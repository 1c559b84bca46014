package zwave_test

import (
	"os"
	"sync"
	"testing"

	"github.com/dooros/dooros/zwave/zwavetest"
)

// One mock network serves the package's tests (starting it costs seconds
// of CPU); each test resets the node it uses.
var (
	netOnce sync.Once
	theNet  *zwavetest.Net
	netErr  error
)

func network(t testing.TB) *zwavetest.Net {
	t.Helper()
	netOnce.Do(func() { theNet, netErr = zwavetest.Open(t) })
	if theNet == nil && netErr == nil {
		if os.Getenv("DOOROS_TEST_ZWAVE") == "1" {
			t.Fatal("DOOROS_TEST_ZWAVE=1 but the Z-Wave JS mock network did not start (see the first test's failure)")
		}
		t.Skip("Z-Wave JS mock network unavailable (see the first test's skip message)")
	}
	if netErr != nil {
		t.Fatal(netErr)
	}
	return theNet
}

func TestMain(m *testing.M) {
	code := m.Run()
	if theNet != nil {
		theNet.Stop()
	}
	os.Exit(code)
}
