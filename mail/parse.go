package mail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
)

// Parsed is a message read back from its RFC 5322 form.
type Parsed struct {
	Message
	// Header holds every header as received, for checks beyond Message.
	Header netmail.Header
}

// Limits for reading messages: a DOOR OS email is a few kilobytes.
const (
	maxParseBytes = 10 << 20
	maxPartDepth  = 5
)

// writtenHeaders are set by this package on every message and are not
// reported in Parsed.Headers.
var writtenHeaders = map[string]bool{"User-Agent": true, "X-Mailer": true, "Auto-Submitted": true}

// Parse reads an RFC 5322 message: the From, To, Subject, Date and
// Message-ID headers, other headers, and the text/plain and text/html parts
// (single part or nested multipart). Message.ID is the left-hand side of
// the Message-ID, as Send wrote it.
func Parse(raw []byte) (Parsed, error) {
	if len(raw) > maxParseBytes {
		return Parsed{}, fmt.Errorf("mail: message of %d bytes exceeds %d", len(raw), maxParseBytes)
	}
	nm, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Parsed{}, fmt.Errorf("mail: read message: %w", err)
	}
	p := Parsed{Header: nm.Header}
	h := nm.Header
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		p.From = Address{Name: from[0].Name, Email: from[0].Address}
	}
	if to, err := h.AddressList("To"); err == nil && len(to) > 0 {
		p.To = Address{Name: to[0].Name, Email: to[0].Address}
	}
	var dec mime.WordDecoder
	if p.Subject, err = dec.DecodeHeader(h.Get("Subject")); err != nil {
		p.Subject = h.Get("Subject")
	}
	if d, err := h.Date(); err == nil {
		p.Date = d
	}
	id := strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
	if i := strings.LastIndexByte(id, '@'); i >= 0 {
		id = id[:i]
	}
	p.ID = id
	for k, v := range h {
		if ownHeaders[k] || writtenHeaders[k] || strings.HasPrefix(k, "Content-") || len(v) == 0 {
			continue
		}
		if p.Headers == nil {
			p.Headers = map[string]string{}
		}
		if s, err := dec.DecodeHeader(v[0]); err == nil {
			p.Headers[k] = s
		} else {
			p.Headers[k] = v[0]
		}
	}
	if err := p.readPart(h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"), nm.Body, 0); err != nil {
		return Parsed{}, err
	}
	return p, nil
}

// readPart fills Text and HTML from the first text/plain and text/html
// leaves found depth-first.
func (p *Parsed) readPart(contentType, encoding string, body io.Reader, depth int) error {
	if depth > maxPartDepth {
		return errors.New("mail: multipart nested too deeply")
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		// RFC 2045: a missing or broken Content-Type is text/plain.
		mediaType, params = "text/plain", nil
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		boundary := params["boundary"]
		if boundary == "" {
			return fmt.Errorf("mail: %s without boundary", mediaType)
		}
		mr := multipart.NewReader(body, boundary)
		for {
			part, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("mail: read %s: %w", mediaType, err)
			}
			err = p.readPart(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part, depth+1)
			_ = part.Close()
			if err != nil {
				return err
			}
		}
	}
	var target *string
	switch mediaType {
	case "text/plain":
		target = &p.Text
	case "text/html":
		target = &p.HTML
	default:
		return nil
	}
	if *target != "" {
		return nil
	}
	text, err := decodeBody(encoding, body)
	if err != nil {
		return fmt.Errorf("mail: decode %s part: %w", mediaType, err)
	}
	*target = text
	return nil
}

func decodeBody(encoding string, body io.Reader) (string, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body) // skips line breaks itself
	}
	b, err := io.ReadAll(io.LimitReader(body, maxParseBytes))
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}
