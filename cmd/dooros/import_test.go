package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// TestImportCommand runs `dooros import` in-process: a dry run, the real
// run with a progress bar and row report, and a failing exit status when a
// row is refused.
func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	initData(t, dir)
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "dooros.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := st.ManagerActor(ctx, testEmail)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.CreateProperty(ctx, pm, domain.PropertyInput{Name: "Elm Court", TimeZone: "America/New_York"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.CreateDoor(ctx, pm, p.ID, domain.DoorInput{Name: "Lobby", Type: domain.DoorEntrance, Connectivity: domain.Online})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateKey(ctx, pm, p.ID, domain.KeyInput{Name: "Building", Doors: []domain.KeyDoor{{DoorID: d.ID, Doorcodes: true}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	file := filepath.Join(dir, "residents.csv")
	os.WriteFile(file, []byte("First Name,Last Name,Email,Keys\nAnn,Archer,ann@example.com,Building\nBen,Baker,ben@example.com,Nope\n"), 0o600)

	imp := func(extra ...string) (string, string, error) {
		var out, errb syncBuffer
		args := append([]string{"import", "--data", dir, "--property", p.ID}, extra...)
		err := run(ctx, append(args, file), noEnv, nil, &out, &errb)
		return out.String(), errb.String(), err
	}

	t.Run("DryRun", func(t *testing.T) {
		out, _, err := imp("--dry-run")
		if err == nil || !strings.Contains(err.Error(), "1 of 2 rows refused") {
			t.Errorf("exit: %v, want 1 of 2 rows refused", err)
		}
		if !strings.Contains(out, "dry run: nothing was changed") || !strings.Contains(out, "ann@example.com") {
			t.Errorf("report:\n%s", out)
		}
	})
	t.Run("RefusedRowFailsTheCommand", func(t *testing.T) {
		out, errOut, err := imp("--as", testEmail)
		if err == nil {
			t.Error("exit status 0 with a refused row")
		}
		for _, want := range []string{"ROW", "2    created", "3    refused", "Keys", `no key named "Nope"`, "done: 2 rows, 1 created, 0 changed, 0 unchanged, 1 refused"} {
			if !strings.Contains(out, want) {
				t.Errorf("report lacks %q:\n%s", want, out)
			}
		}
		if !strings.Contains(errOut, "\r[") || !strings.Contains(errOut, "100%") {
			t.Errorf("no progress bar on stderr: %q", errOut)
		}
	})
	t.Run("ProgressBarEndsItsLine", func(t *testing.T) {
		// On a terminal stdout and stderr share the screen: the report must
		// start on a line of its own, after the bar.
		var both syncBuffer
		args := []string{"import", "--data", dir, "--property", p.ID, "--dry-run", file}
		run(ctx, args, noEnv, nil, &both, &both)
		s := both.String()
		bar, report := strings.LastIndex(s, "\r["), strings.Index(s, "ROW")
		if bar < 0 || report < bar {
			t.Fatalf("want the bar before the report:\n%q", s)
		}
		if line := s[bar:report]; !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
			t.Errorf("the bar's line does not end before the report: %q", line)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		var out, errb syncBuffer
		if err := run(ctx, []string{"import", "--data", dir, file}, noEnv, nil, &out, &errb); err == nil {
			t.Error("import without --property succeeded")
		}
		if _, _, err := imp("--as", "nobody@example.com"); err == nil || !strings.Contains(err.Error(), "no manager") {
			t.Errorf("unknown manager: %v", err)
		}
	})
}
