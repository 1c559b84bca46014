package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// FS is the lock's flash storage. Everything the lock persists goes through
// these four operations, so a test can cut the power at any one of them.
// WriteFile and AppendFile are durable when they return; Rename is atomic:
// after a power cut the new name holds the old content or the new, never a
// mix. A write interrupted by a power cut may leave a prefix of its data.
type FS interface {
	ReadFile(name string) ([]byte, error) // fs.ErrNotExist when absent
	WriteFile(name string, data []byte) error
	AppendFile(name string, data []byte) error
	Rename(oldname, newname string) error
}

// DirFS stores the lock's files in a directory of the host file system.
func DirFS(dir string) FS { return dirFS(dir) }

type dirFS string

func (d dirFS) path(name string) string { return filepath.Join(string(d), name) }

func (d dirFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(d.path(name)) }

func (d dirFS) WriteFile(name string, data []byte) error {
	return d.write(name, data, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
}

func (d dirFS) AppendFile(name string, data []byte) error {
	return d.write(name, data, os.O_WRONLY|os.O_CREATE|os.O_APPEND)
}

func (d dirFS) write(name string, data []byte, flag int) error {
	f, err := os.OpenFile(d.path(name), flag, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (d dirFS) Rename(oldname, newname string) error {
	if err := os.Rename(d.path(oldname), d.path(newname)); err != nil {
		return err
	}
	// The rename is only durable once the directory entry is on disk.
	dir, err := os.Open(string(d))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// MemFS keeps the lock's files in memory: for simulating many locks in one
// process, and for tests.
type MemFS struct {
	mu    sync.Mutex
	files map[string][]byte
}

// NewMemFS returns an empty in-memory flash.
func NewMemFS() *MemFS { return &MemFS{files: map[string][]byte{}} }

// ReadFile implements FS.
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.files[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return append([]byte(nil), b...), nil
}

// WriteFile implements FS.
func (m *MemFS) WriteFile(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[name] = append([]byte(nil), data...)
	return nil
}

// AppendFile implements FS.
func (m *MemFS) AppendFile(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[name] = append(m.files[name], data...)
	return nil
}

// Rename implements FS.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.files[oldname]
	if !ok {
		return fmt.Errorf("%s: %w", oldname, fs.ErrNotExist)
	}
	m.files[newname] = b
	delete(m.files, oldname)
	return nil
}

// Image returns a copy of every file, as an attacker dumping the flash
// chip would read it.
func (m *MemFS) Image() map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string][]byte, len(m.files))
	for k, v := range m.files {
		out[k] = append([]byte(nil), v...)
	}
	return out
}

// Clone copies the flash, as a test reads it back after a power cut.
func (m *MemFS) Clone() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMemFS()
	for k, v := range m.files {
		c.files[k] = append([]byte(nil), v...)
	}
	return c
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
