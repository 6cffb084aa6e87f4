package systables

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path"
	"strings"
)

// ExtractKernelFiles unpacks KernelFiles from a kernel source tarball (such
// as Debian's /usr/src/linux-source-6.1.tar.xz) into dir, which becomes a
// tree Build can read. tar stops after the last file it was asked for, so
// this reads only the start of the archive, where arch/ lies.
func ExtractKernelFiles(ctx context.Context, tarball, dir string) error {
	top, err := topDir(ctx, tarball)
	if err != nil {
		return err
	}
	args := []string{"--occurrence=1", "-xf", tarball, "-C", dir, "--strip-components=1"}
	for _, f := range KernelFiles {
		args = append(args, path.Join(top, f))
	}
	if out, err := exec.CommandContext(ctx, "tar", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("extract syscall tables from %s: %w: %s", tarball, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// topDir is the directory the tarball's first entry lies in.
func topDir(ctx context.Context, tarball string) (string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tar", "-tf", tarball)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("list %s: %w", tarball, err)
	}
	sc := bufio.NewScanner(out)
	first := ""
	if sc.Scan() {
		first = sc.Text()
	}
	// The rest of the listing is not needed: stop tar.
	cancel()
	_ = cmd.Wait()
	top, _, _ := strings.Cut(first, "/")
	if top == "" {
		return "", fmt.Errorf("list %s: no entries", tarball)
	}
	return top, nil
}

// Generate builds the table from in (whose KernelDir may also be a kernel
// tarball) and returns the formatted zsyscalls.go.
func Generate(ctx context.Context, in Inputs) ([]byte, error) {
	st, err := os.Stat(in.KernelDir)
	if err != nil {
		return nil, fmt.Errorf("kernel source: %w (install linux-source-6.1)", err)
	}
	if !st.IsDir() {
		tmp, err := os.MkdirTemp("", "systables-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		if err := ExtractKernelFiles(ctx, in.KernelDir, tmp); err != nil {
			return nil, err
		}
		in.KernelDir = tmp
	}
	t, err := Build(in)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.WriteGo(&buf); err != nil {
		return nil, err
	}
	src, err := format.Source(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("format generated table: %w", err)
	}
	return src, nil
}
