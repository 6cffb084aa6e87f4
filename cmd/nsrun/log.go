package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// logger writes nsrun's own messages (errors, warnings) the way runc does
// with --log and --log-format: one line each, text as
//
//	time="2026-01-02T15:04:05Z" level=error msg="..."
//
// or JSON as {"level":"error","msg":"...","time":"..."}. containerd's shim
// passes --log FILE --log-format json and, when a command fails, reads the
// last "error" entry of FILE back as the reason it reports; a file it cannot
// decode, or none at all, turns that reason into "unable to retrieve OCI
// runtime error". Without --log the messages go to stderr as plain
// "nsrun: ..." lines.
type logger struct {
	mu     sync.Mutex
	file   io.Writer // nil: stderr only
	json   bool
	stderr io.Writer
}

func newLogger(path, format string, stderr io.Writer) (_ *logger, closeLog func() error, _ error) {
	l := &logger{stderr: stderr}
	switch format {
	case "text", "":
	case "json":
		l.json = true
	default:
		return nil, nil, fmt.Errorf("--log-format %q: use text or json", format)
	}
	if path == "" || path == "/dev/stderr" {
		return l, func() error { return nil }, nil
	}
	// Created even if nothing is logged: the shim opens it after a failure
	// whatever the cause, and O_APPEND keeps concurrent commands' lines
	// whole (each is one write).
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("--log %s: %w", path, err)
	}
	l.file = f
	return l, f.Close, nil
}

func (l *logger) log(level, msg string) {
	msg = strings.TrimSpace(msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		prefix := "nsrun: "
		if level == "warning" {
			prefix = "nsrun: warning: "
		}
		fmt.Fprintln(l.stderr, prefix+msg)
		return
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var line []byte
	if l.json {
		line, _ = json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
	} else {
		line = fmt.Appendf(nil, "time=%q level=%s msg=%q", now, level, msg)
	}
	_, _ = l.file.Write(append(line, '\n'))
	// runc writes errors to stderr as well, where a caller without the
	// log file (conmon, a person) sees them.
	if level == "error" {
		fmt.Fprintln(l.stderr, "nsrun: "+msg)
	}
}

func (l *logger) Error(err error) { l.log("error", err.Error()) }
func (l *logger) Warn(msg string) { l.log("warning", msg) }

// warnWriter adapts the runtime's Warn writer ("nsrun: warning: ..." lines)
// to the logger.
type warnWriter struct{ l *logger }

func (w warnWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		msg := strings.TrimPrefix(string(line), "nsrun: warning: ")
		if msg != "" {
			w.l.Warn(msg)
		}
	}
	return len(p), nil
}
