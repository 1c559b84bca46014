package locksim

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// Field 2 may hold spaces and parentheses; utime and stime are fields
	// 14 and 15 (here 7 and 5 ticks).
	line := "4242 (doorlock (fleet) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 9 0 100 0 0\n"
	got, err := parseProcStat([]byte(line), "4242")
	if err != nil || got != 120*time.Millisecond {
		t.Fatalf("parseProcStat = %v, %v; want 120ms", got, err)
	}
	for _, bad := range []string{
		"",
		"4242 doorlock S 1",
		"4242 (doorlock) S 1 2 3",
		strings.Replace(line, " 7 5 ", " x 5 ", 1),
		strings.Replace(line, " 7 5 ", " 7 -y ", 1),
	} {
		if _, err := parseProcStat([]byte(bad), "4242"); err == nil {
			t.Errorf("parseProcStat(%q) = nil error", bad)
		}
	}
	if runtime.GOOS != "linux" {
		return // ProcessCPU reads Linux's /proc
	}
	if _, err := ProcessCPU("self"); err != nil {
		t.Fatal(err)
	}
	if _, err := ProcessCPU("not-a-pid"); err == nil {
		t.Error("ProcessCPU of a process that does not exist: nil error")
	}
}
