// Command mksyscalls writes runtime/seccomp's syscall name table
// (zsyscalls.go) from golang.org/x/sys and a kernel source; see
// runtime/seccomp/internal/systables for what comes from where.
//
//	go run ./internal/mksyscalls [-kernel TREE|TARBALL] [-xsys DIR] -o zsyscalls.go
//
// -xsys defaults to the x/sys module this module requires (from `go list`),
// -kernel to Debian's linux-source-6.1 tarball.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nsbench/nsbench/runtime/seccomp/internal/systables"
)

func main() {
	kernel := flag.String("kernel", "/usr/src/linux-source-6.1.tar.xz", "kernel source tree or tarball")
	xsys := flag.String("xsys", "", "golang.org/x/sys module directory (default: the required version's, from go list)")
	out := flag.String("o", "zsyscalls.go", "output file")
	flag.Parse()
	if err := run(context.Background(), *kernel, *xsys, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mksyscalls:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, kernel, xsys, out string) error {
	in := systables.Inputs{XSysDir: xsys, XSysName: "golang.org/x/" + filepath.Base(xsys), KernelDir: kernel, KernelName: strings.TrimSuffix(filepath.Base(kernel), ".tar.xz")}
	if xsys == "" {
		mod, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}} {{.Path}}@{{.Version}}", "golang.org/x/sys").Output()
		if err != nil {
			return fmt.Errorf("go list -m golang.org/x/sys: %w (or give -xsys)", err)
		}
		in.XSysDir, in.XSysName, _ = strings.Cut(strings.TrimSpace(string(mod)), " ")
	}
	src, err := systables.Generate(ctx, in)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}
