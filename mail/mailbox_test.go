package mail_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/mail"
)

func mustMailbox(t *testing.T) *mail.Mailbox {
	t.Helper()
	b, err := mail.OpenMailbox(filepath.Join(t.TempDir(), "mailbox"), "")
	if err != nil {
		t.Fatalf("OpenMailbox: %v", err)
	}
	return b
}

func TestMailbox(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		b := mustMailbox(t)
		want := testMessage("01JWELCOME")
		before := time.Now()
		if err := b.Send(ctx, want); err != nil {
			t.Fatalf("Send: %v", err)
		}
		got, err := b.Get(want.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got.ID != want.ID || got.To != want.To || got.Subject != want.Subject || got.Text != want.Text || got.HTML != want.HTML {
			t.Errorf("Get = %+v\nwant %+v", got.Message, want)
		}
		if got.From != mail.DefaultFrom {
			t.Errorf("From = %+v, want %+v", got.From, mail.DefaultFrom)
		}
		if got.SentAt.Before(before.Add(-time.Second)) || time.Since(got.SentAt) > time.Minute {
			t.Errorf("SentAt = %v, want about %v", got.SentAt, before)
		}
		if got.Headers["X-Dooros-Kind"] != "welcome" {
			t.Errorf("Headers = %v, want X-Dooros-Kind: welcome", got.Headers)
		}
		// A real .eml: the file parses on its own, with the Message-ID.
		raw, err := os.ReadFile(filepath.Join(b.Dir(), want.ID+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := mail.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.Header.Get("Message-Id"), "<01JWELCOME@localhost>"; got != want {
			t.Errorf("Message-ID = %q, want %q", got, want)
		}
		if r, err := b.Raw(want.ID); err != nil || string(r) != string(raw) {
			t.Errorf("Raw = %d bytes, %v; want the file", len(r), err)
		}
		info, err := os.Stat(b.Dir())
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("mailbox directory mode %v, want owner only (codes are inside)", perm)
		}
	})

	t.Run("OKSameIDKeepsOne", func(t *testing.T) {
		b := mustMailbox(t)
		first := testMessage("retry-1")
		if err := b.Send(ctx, first); err != nil {
			t.Fatal(err)
		}
		second := first
		second.Subject = "Second attempt"
		if err := b.Send(ctx, second); err != nil {
			t.Fatal(err)
		}
		list, err := b.List(0)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Subject != "Second attempt" {
			t.Fatalf("List = %d messages (%+v), want the second attempt only", len(list), list)
		}
		entries, err := os.ReadDir(b.Dir())
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Errorf("mailbox holds %d files, want 1 (no temporary files left)", len(entries))
		}
	})

	t.Run("OKListNewestFirst", func(t *testing.T) {
		b := mustMailbox(t)
		for i := range 5 {
			if err := b.Send(ctx, testMessage(fmt.Sprintf("m%d", i))); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond) // distinct modification times
		}
		list, err := b.List(3)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range list {
			ids = append(ids, m.ID)
		}
		if got, want := fmt.Sprint(ids), "[m4 m3 m2]"; got != want {
			t.Errorf("List(3) = %s, want %s", got, want)
		}
		all, err := b.List(0)
		if err != nil || len(all) != 5 {
			t.Errorf("List(0) = %d, %v; want 5", len(all), err)
		}
	})

	t.Run("OKReopen", func(t *testing.T) {
		b := mustMailbox(t)
		if err := b.Send(ctx, testMessage("kept")); err != nil {
			t.Fatal(err)
		}
		again, err := mail.OpenMailbox(b.Dir(), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := again.Get("kept"); err != nil {
			t.Errorf("Get after reopen: %v", err)
		}
	})

	t.Run("OKConcurrent", func(t *testing.T) {
		b := mustMailbox(t)
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Go(func() {
				// Half the goroutines race on the same IDs.
				errs <- b.Send(ctx, testMessage(fmt.Sprintf("c%d", i%20)))
				if _, err := b.List(10); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		list, err := b.List(0)
		if err != nil || len(list) != 20 {
			t.Errorf("List = %d, %v; want 20", len(list), err)
		}
	})

	t.Run("OKFrom", func(t *testing.T) {
		b, err := mail.OpenMailbox(t.TempDir(), "Maple Court <maple@example.com>")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Send(ctx, testMessage("from")); err != nil {
			t.Fatal(err)
		}
		got, err := b.Get("from")
		if err != nil {
			t.Fatal(err)
		}
		if want := (mail.Address{Name: "Maple Court", Email: "maple@example.com"}); got.From != want {
			t.Errorf("From = %+v, want %+v", got.From, want)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		b := mustMailbox(t)
		for _, id := range []string{"missing", "../../etc/passwd", "", "."} {
			if _, err := b.Get(id); !errors.Is(err, mail.ErrNotFound) {
				t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
			}
		}
	})

	t.Run("ErrInvalidMessage", func(t *testing.T) {
		b := mustMailbox(t)
		m := testMessage("../escape")
		if err := b.Send(ctx, m); !mail.IsPermanent(err) || !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("Send = %v, want permanent ErrInvalidMessage", err)
		}
		if list, _ := b.List(0); len(list) != 0 {
			t.Errorf("List = %d messages, want none", len(list))
		}
	})

	t.Run("ErrCancelled", func(t *testing.T) {
		b := mustMailbox(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := b.Send(cctx, testMessage("late")); err == nil || mail.IsPermanent(err) {
			t.Errorf("Send = %v, want a temporary error", err)
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, m := range []mail.Message{testMessage("seed"), {ID: "t", To: ada, Subject: "s", Text: "plain only"}} {
		b, err := mail.OpenMailbox(f.TempDir(), "")
		if err != nil {
			f.Fatal(err)
		}
		if err := b.Send(context.Background(), m); err != nil {
			f.Fatal(err)
		}
		raw, err := b.Raw(m.ID)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x--\r\n"))
	f.Add([]byte("Content-Transfer-Encoding: base64\r\n\r\n!!!!"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = mail.Parse(raw) // must not panic or hang
	})
}
