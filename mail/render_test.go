package mail_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mail/mailtest"
)

// TestDisplayNames: any single-line display name a person may have reaches
// the recipient intact, over SMTP and in the local mailbox; quotes, commas,
// brackets and non-ASCII letters must not make an email fail for good.
func TestDisplayNames(t *testing.T) {
	names := []string{
		`Ann (x","y) Lee`,
		`"Quoted"`,
		`O'Brien`,
		`Zoë <z>`,
		`Lee, Ann`,
		`a\b "c"`,
		`José Müller-Łukasz`,
		`=?utf-8?q?not-encoded?=`,
		``,
	}
	srv := mailtest.NewServer(t)
	smtp := mustSender(t, srv.URL())
	box := mustMailbox(t)
	for i, name := range names {
		t.Run("OK"+strconv.Itoa(i), func(t *testing.T) {
			m := testMessage("01JNAME" + strconv.Itoa(i))
			m.To = mail.Address{Name: name, Email: "ann" + strconv.Itoa(i) + "@example.com"}
			if err := smtp.Send(context.Background(), m); err != nil {
				t.Fatalf("SMTP send to %q: %v", name, err)
			}
			got := srv.MessagesTo(m.To.Email)
			if len(got) != 1 {
				t.Fatalf("%d messages to %s, want 1", len(got), m.To.Email)
			}
			if e := got[0].MustParse(t); e.To != m.To {
				t.Errorf("SMTP To = %+v, want %+v", e.To, m.To)
			}
			if err := box.Send(context.Background(), m); err != nil {
				t.Fatalf("mailbox send to %q: %v", name, err)
			}
			sent, err := box.Get(m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if sent.To != m.To {
				t.Errorf("mailbox To = %+v, want %+v", sent.To, m.To)
			}
		})
	}
}
