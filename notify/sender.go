package notify

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

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

// PublicURL checks the --public-url value (an absolute http(s) URL, no
// query or fragment) and defaults it to http://listenAddr.
func PublicURL(flag, listenAddr string) (string, error) {
	if flag == "" {
		return "http://" + listenAddr, nil
	}
	u, err := url.Parse(flag)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--public-url %q: want an http(s) address such as https://door.example.com", flag)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
