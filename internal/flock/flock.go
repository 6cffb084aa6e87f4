// Package flock takes exclusive advisory file locks that give up when a
// context ends: the caches of kernels, images and Debian packages are
// shared by concurrent builds, which wait for each other this way.
package flock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Lock takes an exclusive flock on path (created, with its directory, if
// missing), waiting until ctx ends. unlock releases it.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	return lock(ctx, f, path)
}

// LockDir takes an exclusive flock on an existing directory, waiting until
// ctx ends: a lock that leaves no lock file behind (the temporary
// directory, say).
func LockDir(ctx context.Context, dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s to lock it: %w", dir, err)
	}
	return lock(ctx, f, dir)
}

// TryLockDir takes an exclusive flock on an existing directory if nobody
// holds one: ok is false when someone does (a writer still at work).
func TryLockDir(dir string) (unlock func(), ok bool, err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false, fmt.Errorf("open %s to lock it: %w", dir, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, true, nil
}

func lock(ctx context.Context, f *os.File, path string) (unlock func(), err error) {
	// flock(2) cannot be interrupted, so it blocks in a goroutine of its
	// own, given the descriptor number read here (reading it there would
	// race with a Close here).
	fd := int(f.Fd())
	// Uncontended, the lock is had at once, without a goroutine and a
	// thread parked in flock(2).
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err == nil {
		return func() { f.Close() }, nil
	}
	done := make(chan error, 1)
	go func() { done <- unix.Flock(fd, unix.LOCK_EX) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		return func() { f.Close() }, nil
	case <-ctx.Done():
		// Close only once flock returns: closed earlier, the number could
		// be reused and the goroutine lock some other file. Closing then
		// releases the lock it may have got meanwhile.
		go func() {
			<-done
			f.Close()
		}()
		return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
	}
}
