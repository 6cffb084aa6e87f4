package console

import (
	"io"
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// Proxy copies in to master and master to out until the slave side is
// closed by every process (reading the master then fails with EIO), as
// runc does for `run` with a terminal and no console socket. When in is a
// terminal it is put in raw mode for the time (the container's terminal
// does the line editing) and its window size follows to the master: both
// are done before Proxy returns, so a program started after it finds its
// size set. wait blocks until the output is drained, then puts in back.
func Proxy(master, in, out *os.File) (wait func()) {
	restore := func() {}
	if st, err := unix.IoctlGetTermios(int(in.Fd()), unix.TCGETS); err == nil {
		raw := *st
		makeRaw(&raw)
		if unix.IoctlSetTermios(int(in.Fd()), unix.TCSETS, &raw) == nil {
			restore = func() { _ = unix.IoctlSetTermios(int(in.Fd()), unix.TCSETS, st) }
		}
		copyWinsize(in, master)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			for range winch {
				copyWinsize(in, master)
			}
		}()
		prev := restore
		restore = func() { signal.Stop(winch); prev() }
	}
	// Input ends with the container; the goroutine blocked in a read of in
	// is left to the process's exit, as nothing else reads in.
	go func() { _, _ = io.Copy(master, in) }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(out, master) // EIO once the slave is closed
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			<-done
			restore()
		})
	}
}

func copyWinsize(from, to *os.File) {
	if ws, err := unix.IoctlGetWinsize(int(from.Fd()), unix.TIOCGWINSZ); err == nil {
		_ = unix.IoctlSetWinsize(int(to.Fd()), unix.TIOCSWINSZ, ws)
	}
}

// makeRaw is cfmakeraw(3).
func makeRaw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}
