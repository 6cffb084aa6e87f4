// Command nsnet is the OCI network hook: in a bundle's createRuntime and
// poststop hook lists it attaches the container to a host bridge through a
// veth pair, and detaches it again. See `nsnet --help`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime/network"
)

const help = `nsnet: the OCI network hook of nsbench (veth + bridge through netlink)

As a hook it reads the container's OCI state JSON on stdin and acts on its
status: "creating" or "created" attaches the container (createRuntime hook),
"stopped" detaches it (poststop hook). A bundle needs only
  "hooks": {"createRuntime": [{"path": "/usr/local/bin/nsnet"}],
            "poststop":      [{"path": "/usr/local/bin/nsnet"}]}
Options go in the hook's "args" (the first arg is the program name).

usage:
  nsnet [options]                 hook mode (state JSON on stdin)
  nsnet cleanup [options] [--force]   remove the bridge and its leases

options:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cleanup := len(args) > 0 && args[0] == "cleanup"
	if cleanup {
		args = args[1:]
	}
	fs := flag.NewFlagSet("nsnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "JSON config file with bridge, subnet, mtu, leaseDir (flags override it)")
	bridge := fs.String("bridge", "", "bridge name (default "+network.DefaultBridge+")")
	subnet := fs.String("subnet", "", "bridge subnet in CIDR form; the bridge takes its first address (default "+network.DefaultSubnet+")")
	mtu := fs.Int("mtu", 0, "MTU of the bridge and the veth pair (default 1500)")
	leaseDir := fs.String("lease-dir", "", "directory of the lease and lock files (default "+network.DefaultLeaseDir+")")
	address := fs.String("address", "", "fixed container address inside the subnet (default: the lowest free one)")
	force := fs.Bool("force", false, "cleanup: also detach containers still holding leases")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var cfg network.Config
	if *configPath != "" {
		c, err := network.LoadConfig(*configPath)
		if err != nil {
			fmt.Fprintln(stderr, "nsnet:", err)
			return 1
		}
		cfg = c
	}
	for _, o := range []struct {
		v   string
		dst *string
	}{{*bridge, &cfg.Bridge}, {*subnet, &cfg.Subnet}, {*leaseDir, &cfg.LeaseDir}} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	if *mtu != 0 {
		cfg.MTU = *mtu
	}
	cfg.PauseAt = os.Getenv(network.EnvTestPause)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := act(ctx, cfg, cleanup, *force, *address, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "nsnet:", err)
		return 1
	}
	return 0
}

func act(ctx context.Context, cfg network.Config, cleanup, force bool, address string, stdin io.Reader, stdout io.Writer) error {
	if cleanup {
		return network.Cleanup(ctx, cfg, force)
	}
	var want netip.Addr
	if address != "" {
		a, err := netip.ParseAddr(address)
		if err != nil {
			return fmt.Errorf("--address %q: %w", address, err)
		}
		want = a
	}
	var st specs.State
	dec := json.NewDecoder(stdin)
	if err := dec.Decode(&st); err != nil {
		return fmt.Errorf("read the OCI state JSON on stdin: %w (nsnet runs as a createRuntime/poststop hook; see nsnet --help)", err)
	}
	if st.ID == "" {
		return errors.New("the state on stdin has no container id")
	}
	switch st.Status {
	case specs.StateCreating, specs.StateCreated:
		a, err := network.Setup(ctx, cfg, st.ID, st.Pid, want)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(a)
	case specs.StateStopped:
		return network.Teardown(ctx, cfg, st.ID)
	default:
		return fmt.Errorf("container %s is %q: nsnet acts on creating/created (attach) or stopped (detach); use it as a createRuntime and poststop hook", st.ID, st.Status)
	}
}
