// Package sigforward catches the signals `nsrun run` and `nsrun exec`
// forward to the container's process, and starts nsrun's other children
// with the signal mask nsrun was given.
//
// Forwarding every signal through os/signal is what made signals the
// largest share of a foreground run's context switches: Go enables each
// signal for os/signal with a round trip to a thread of its own, 56 of
// them. Reading 43 of them from a signalfd instead saved ~2 ms of CPU and
// ~120 context switches per run (docs/startcost.md). crun blocks every signal and reads them from a signalfd; a Go
// program can do that only if every one of its threads has them blocked
// from its start, so a C constructor (sigforward.c) blocks them before the
// Go runtime starts, for run and exec only. Go then unblocks on each thread
// the signals it must handle itself (SIGSEGV and the like, and the ones
// whose default kills it: SIGHUP, SIGINT, SIGTERM, SIGQUIT, ...); those few
// are caught with os/signal, the rest are read from a signalfd. A signal
// that arrives while the container is being made stays pending until the
// container exists, instead of being dropped.
//
// A blocked mask is inherited by children, so the constructor also empties
// it for nsrun's init (the container's processes start with no signal
// blocked, as crun gives them), and hooks run through Prefix, which
// restores the mask nsrun started with before it execs the hook.
//
// The constructor is linked into every binary that imports this package;
// only cmd/nsrun does, and it acts only on nsrun's command lines.
package sigforward

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwarded reports whether run and exec pass sig on: every signal but the
// ones the kernel does not let a process catch, the ones the Go runtime
// keeps for itself (SIGURG preempts goroutines, SIGPROF profiles, 32 and 33
// are glibc's), SIGCHLD (nsrun's own children) and SIGWINCH (the terminal
// proxy's).
func forwarded(sig unix.Signal) bool {
	switch sig {
	case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGURG, unix.SIGPROF, unix.SIGWINCH, 32, 33:
		return false
	}
	return sig >= 1 && sig <= 64
}

func member(set *unix.Sigset_t, sig unix.Signal) bool {
	return set.Val[0]&(1<<(uint(sig)-1)) != 0
}

// Catch starts catching every forwarded signal and returns the channel
// they arrive on and a wait for the catching to be in place. Signals the
// constructor left blocked are read from a signalfd; the rest, and all of
// them where nothing blocked them (a build without cgo), are enabled with
// os/signal, in the background while the caller works.
func Catch() (<-chan os.Signal, func() error) {
	sigs := make(chan os.Signal, 16)
	done := make(chan error, 1)
	go func() {
		var mask, fdset unix.Sigset_t
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &mask); err != nil {
			done <- fmt.Errorf("read the signal mask: %w", err)
			return
		}
		var notify []os.Signal
		for sig := unix.Signal(1); sig <= 64; sig++ {
			switch {
			case !forwarded(sig):
			case member(&mask, sig):
				fdset.Val[0] |= 1 << (uint(sig) - 1)
			default:
				notify = append(notify, sig)
			}
		}
		// Notify with no signal would catch every one.
		if len(notify) > 0 {
			signal.Notify(sigs, notify...)
		}
		if fdset.Val[0] != 0 {
			f, err := signalfd(&fdset)
			if err != nil {
				done <- err
				return
			}
			go readSignals(f, sigs)
		}
		done <- nil
	}()
	return sigs, func() error { return <-done }
}

func signalfd(set *unix.Sigset_t) (*os.File, error) {
	fd, err := unix.Signalfd(-1, set, unix.SFD_CLOEXEC|unix.SFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("signalfd for the signals to forward: %w", err)
	}
	return os.NewFile(uintptr(fd), "signalfd"), nil
}

// readSignals passes on what the signalfd reads until nsrun exits.
func readSignals(f *os.File, sigs chan<- os.Signal) {
	buf := make([]byte, 128*16)
	for {
		n, err := f.Read(buf)
		if err != nil {
			if !errors.Is(err, syscall.EINTR) {
				return
			}
			continue
		}
		// Each read returns whole 128-byte signalfd_siginfo records;
		// ssi_signo is the first field, in host order.
		for off := 0; off+128 <= n; off += 128 {
			sigs <- unix.Signal(binary.NativeEndian.Uint32(buf[off:]))
		}
	}
}

// Prefix returns the argv that runs a program with the signal mask nsrun
// was started with (append the program's path and its argv), or nil when
// nsrun blocked nothing and its children inherit that mask anyway.
func Prefix() []string {
	blocked, orig := constructorBlocked()
	if !blocked {
		return nil
	}
	return []string{"/proc/self/exe", "sigreset-exec", strconv.FormatUint(orig, 16)}
}
