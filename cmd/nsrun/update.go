package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime"
)

// cmdUpdate is runc's update: the new limits come either as a
// linux.resources JSON document (-r FILE, or -r - for stdin, which is how
// containerd's shim sends `docker update`) or as flags. Values left out keep
// their current setting.
func cmdUpdate(ctx context.Context, rt *runtime.Runtime, args []string, stdin io.Reader, stderr io.Writer) error {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	fs.SetOutput(stderr)
	resources := fs.String("resources", "", "file with the linux.resources JSON to apply, - for stdin")
	fs.StringVar(resources, "r", "", "file with the linux.resources JSON to apply, - for stdin")
	str := map[string]*string{}
	for _, name := range []string{
		"cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems",
		"memory", "memory-reservation", "memory-swap", "l3-cache-schema", "mem-bw-schema",
	} {
		str[name] = fs.String(name, "", "as runc update --"+name)
	}
	blkio := fs.Uint("blkio-weight", 0, "block I/O weight, 10 to 1000")
	pids := fs.Int64("pids-limit", 0, "maximum number of processes (-1: no limit)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("update: want exactly one container id, got %d", len(pos))
	}
	flagsGiven := false
	fs.Visit(func(f *flag.Flag) { flagsGiven = flagsGiven || (f.Name != "resources" && f.Name != "r") })
	var res *specs.LinuxResources
	if *resources != "" {
		if flagsGiven {
			return errors.New("update: -r takes all limits from its JSON; give the other flags in it instead (runc would ignore them)")
		}
		if res, err = readResources(*resources, stdin); err != nil {
			return err
		}
	} else if res, err = resourcesFromFlags(str, *blkio, *pids); err != nil {
		return err
	}
	return rt.Update(ctx, pos[0], res)
}

func readResources(path string, stdin io.Reader) (*specs.LinuxResources, error) {
	r := stdin
	name := "standard input"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("update: -r %s: %w", path, err)
		}
		defer f.Close()
		r, name = f, path
	}
	var res specs.LinuxResources
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("update: parse linux.resources JSON from %s: %w", name, err)
	}
	return &res, nil
}

func resourcesFromFlags(str map[string]*string, blkio uint, pids int64) (*specs.LinuxResources, error) {
	for _, rdt := range []string{"l3-cache-schema", "mem-bw-schema"} {
		if *str[rdt] != "" {
			return nil, fmt.Errorf("update: --%s: nsrun has no Intel RDT support", rdt)
		}
	}
	res := &specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{Cpus: *str["cpuset-cpus"], Mems: *str["cpuset-mems"]}}
	for name, dst := range map[string]**uint64{"cpu-period": &res.CPU.Period, "cpu-rt-period": &res.CPU.RealtimePeriod, "cpu-share": &res.CPU.Shares} {
		if v := *str[name]; v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("update: --%s %q: not a number", name, v)
			}
			*dst = &n
		}
	}
	for name, dst := range map[string]**int64{"cpu-quota": &res.CPU.Quota, "cpu-rt-runtime": &res.CPU.RealtimeRuntime} {
		if v := *str[name]; v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("update: --%s %q: not a number", name, v)
			}
			*dst = &n
		}
	}
	for name, dst := range map[string]**int64{"memory": &res.Memory.Limit, "memory-reservation": &res.Memory.Reservation, "memory-swap": &res.Memory.Swap} {
		if v := *str[name]; v != "" {
			n, err := ramInBytes(v)
			if err != nil {
				return nil, fmt.Errorf("update: --%s: %w", name, err)
			}
			*dst = &n
		}
	}
	if blkio != 0 {
		if blkio < 10 || blkio > 1000 {
			return nil, fmt.Errorf("update: --blkio-weight %d: not in 10..1000", blkio)
		}
		w := uint16(blkio)
		res.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	if pids != 0 {
		res.Pids = &specs.LinuxPids{Limit: &pids}
	}
	return res, nil
}

// ramPattern is compiled where it is used: every nsrun process (the
// container's init too) would pay for it at start-up otherwise.
const ramPattern = `^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`

// ramInBytes reads a size as runc's update does (docker's units): a number
// with an optional binary unit (k, m, g, t, p; kb, KiB, ...), or -1 for no
// limit.
func ramInBytes(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	m := regexp.MustCompile(ramPattern).FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (use bytes or a unit: 512m, 2g; -1 for no limit)", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	mult := map[string]float64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[strings.ToLower(m[2])]
	return int64(v * mult), nil
}
