package mail

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned by Mailbox.Get for an ID it does not hold.
var ErrNotFound = errors.New("mail: message not found")

// DefaultFrom is the sender of a Mailbox opened without one.
var DefaultFrom = Address{Name: "DOOR OS", Email: "dooros@localhost"}

// Mailbox is the embedded default Sender: every message becomes the file
// ID.eml in one directory, exactly as it would go to a relay. Sending an ID
// again replaces its file, so a retried send never shows twice. The file's
// modification time is when it was sent; no other index exists, so several
// processes may share the directory and the files can be opened with any
// mail client.
type Mailbox struct {
	dir  string
	from Address
	mu   sync.Mutex // orders writes of this process; rename keeps readers safe
}

// StoredMessage is a message kept by a Mailbox.
type StoredMessage struct {
	Message
	SentAt time.Time
}

// OpenMailbox opens (creating if needed) the mailbox directory dir. from is
// the default sender ("Name <addr>" or a bare address); empty means
// DefaultFrom.
func OpenMailbox(dir string, from string) (*Mailbox, error) {
	if dir == "" {
		return nil, errors.New("mail: mailbox directory is empty")
	}
	b := &Mailbox{dir: dir, from: DefaultFrom}
	if from != "" {
		a, err := ParseAddress(from)
		if err != nil {
			return nil, fmt.Errorf("mail: mailbox sender: %w", err)
		}
		b.from = a
	}
	// Login codes and doorcodes are in these files: owner only.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: open mailbox: %w", err)
	}
	return b, nil
}

// Dir is the mailbox directory.
func (b *Mailbox) Dir() string { return b.dir }

// Send stores m as ID.eml, replacing an earlier message with the same ID.
func (b *Mailbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return &Error{Err: err}
	}
	m, err := m.validate(b.from)
	if err != nil {
		return err
	}
	now := time.Now()
	raw, err := m.render(now)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.write(m.ID, raw, now); err != nil {
		return &Error{Err: fmt.Errorf("mailbox: %w", err)}
	}
	return nil
}

// write replaces ID.eml atomically, so a reader sees the old message or the
// new one and a crash leaves no half-written file behind.
func (b *Mailbox) write(id string, raw []byte, sentAt time.Time) error {
	f, err := os.CreateTemp(b.dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, sentAt, sentAt); err != nil {
		return err
	}
	if err := os.Rename(tmp, b.path(id)); err != nil {
		return err
	}
	// The outbox marks the message sent once Send returns: make the rename
	// durable first.
	if d, err := os.Open(b.dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *Mailbox) path(id string) string { return filepath.Join(b.dir, id+".eml") }

// List returns up to limit messages, newest first; limit <= 0 means all.
func (b *Mailbox) List(limit int) ([]StoredMessage, error) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, fmt.Errorf("mail: list mailbox: %w", err)
	}
	type file struct {
		id   string
		sent time.Time
	}
	var files []file
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".eml")
		if !ok || !e.Type().IsRegular() || !idPattern.MatchString(id) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by hand meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("mail: list mailbox: %w", err)
		}
		files = append(files, file{id, info.ModTime()})
	}
	slices.SortFunc(files, func(x, y file) int {
		if c := y.sent.Compare(x.sent); c != 0 {
			return c
		}
		return cmp.Compare(y.id, x.id)
	})
	if limit > 0 && len(files) > limit {
		files = files[:limit]
	}
	out := make([]StoredMessage, 0, len(files))
	for _, f := range files {
		m, err := b.Get(f.id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Get returns the message with the given ID, or ErrNotFound.
func (b *Mailbox) Get(id string) (StoredMessage, error) {
	raw, sent, err := b.read(id)
	if err != nil {
		return StoredMessage{}, err
	}
	p, err := Parse(raw)
	if err != nil {
		return StoredMessage{}, fmt.Errorf("mail: mailbox message %s: %w", id, err)
	}
	p.ID = id
	return StoredMessage{Message: p.Message, SentAt: sent}, nil
}

// Raw returns the message with the given ID as stored, an RFC 5322 .eml
// (for a console download), or ErrNotFound.
func (b *Mailbox) Raw(id string) ([]byte, error) {
	raw, _, err := b.read(id)
	return raw, err
}

func (b *Mailbox) read(id string) ([]byte, time.Time, error) {
	if !idPattern.MatchString(id) {
		return nil, time.Time{}, ErrNotFound
	}
	f, err := os.Open(b.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, ErrNotFound
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("mail: mailbox: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("mail: mailbox: %w", err)
	}
	if info.Size() > maxParseBytes {
		return nil, time.Time{}, fmt.Errorf("mail: mailbox message %s is too large", id)
	}
	raw := make([]byte, info.Size())
	if _, err := f.ReadAt(raw, 0); err != nil {
		return nil, time.Time{}, fmt.Errorf("mail: mailbox: %w", err)
	}
	return raw, info.ModTime(), nil
}
