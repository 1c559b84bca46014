package notify

import (
	"fmt"
	"path/filepath"

	"github.com/dooros/dooros/mail"
)

// NewSender picks the mail transport: an SMTP relay when smtpURL is set,
// else the local Mailbox under dataDir/mailbox (the embedded default, shown
// by the console). from is the default sender ("Name <addr>"), optional.
func NewSender(smtpURL, from, dataDir string) (mail.Sender, string, error) {
	if smtpURL != "" {
		s, err := mail.NewSMTPSender(smtpURL, from)
		if err != nil {
			return nil, "", err
		}
		return s, "SMTP " + s.String(), nil
	}
	dir := filepath.Join(dataDir, "mailbox")
	b, err := mail.OpenMailbox(dir, from)
	if err != nil {
		return nil, "", fmt.Errorf("mailbox: %w", err)
	}
	return b, "local mailbox " + dir, nil
}
