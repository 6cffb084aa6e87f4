package cgroups

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf/asm"

	"github.com/nsbench/nsbench/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func devRule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: &major, Minor: &minor, Access: access}
}

func TestDeviceFilterRejectsBadRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule specs.LinuxDeviceCgroup
		want string
	}{
		{"type", specs.LinuxDeviceCgroup{Type: "x"}, `type "x" is not a, b or c`},
		{"access letter", specs.LinuxDeviceCgroup{Type: "c", Access: "rx"}, `'x' is not r, w or m`},
		{"access repeated", specs.LinuxDeviceCgroup{Type: "c", Access: "rr"}, "repeats a letter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := deviceFilter([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, tc.rule})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "linux.resources.devices[1]")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// ciliumFilter is deviceFilter as it was written with cilium/ebpf's
// assembler (before nsrun dropped the package for its start-up cost):
// the reference TestDeviceFilterMatchesCilium compares the hand-written
// encoding with.
func ciliumFilter(rules []specs.LinuxDeviceCgroup) (asm.Instructions, error) {
	prologue := asm.Instructions{
		// R1 is the context: R2 type, R3 access, R4 major, R5 minor.
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm32(asm.R2, 0xffff),
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(asm.R3, 16),
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word),
	}
	var blocks []asm.Instructions
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		next := fmt.Sprintf("rule%d", len(blocks))
		var b asm.Instructions
		switch r.Type {
		case "", "a":
		case "c":
			b = append(b, asm.JNE.Imm(asm.R2, devChar, next))
		case "b":
			b = append(b, asm.JNE.Imm(asm.R2, devBlock, next))
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d]: type %q is not a, b or c", i, r.Type)
		}
		acc, err := accessMask(r.Access)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		if acc != accAll {
			// The rule covers an access only if it grants every bit asked.
			b = append(b,
				asm.Mov.Reg32(asm.R6, asm.R3),
				asm.And.Imm32(asm.R6, ^int32(acc)&accAll),
				asm.JNE.Imm(asm.R6, 0, next))
		}
		if r.Major != nil && *r.Major >= 0 {
			b = append(b, asm.JNE.Imm(asm.R4, int32(*r.Major), next))
		}
		if r.Minor != nil && *r.Minor >= 0 {
			b = append(b, asm.JNE.Imm(asm.R5, int32(*r.Minor), next))
		}
		verdict := int32(0)
		if r.Allow {
			verdict = 1
		}
		catchAll := len(b) == 0
		blocks = append(blocks, append(b, asm.Mov.Imm(asm.R0, verdict), asm.Return()))
		if catchAll {
			// It matches every access: the earlier rules can never decide
			// and the verifier refuses code that cannot be reached.
			break
		}
	}
	insns := prologue
	for i, b := range blocks {
		if i > 0 {
			// The previous block jumps here when its rule does not match.
			b[0] = b[0].WithSymbol(fmt.Sprintf("rule%d", i-1))
		}
		insns = append(insns, b...)
	}
	// Unless the last block is a catch-all (a verdict and exit, nothing
	// else), accesses fall through it: deny them.
	if n := len(blocks); n == 0 || len(blocks[n-1]) > 2 {
		deny := asm.Mov.Imm(asm.R0, 0)
		if n > 0 {
			deny = deny.WithSymbol(fmt.Sprintf("rule%d", n-1))
		}
		insns = append(insns, deny, asm.Return())
	}
	return insns, nil
}

// TestDeviceFilterMatchesCilium: the hand-encoded program is byte for byte
// what cilium/ebpf's assembler makes of the same rules, for fixed rule
// sets and random ones.
func TestDeviceFilterMatchesCilium(t *testing.T) {
	major := func(n int64) *int64 { return &n }
	sets := [][]specs.LinuxDeviceCgroup{
		nil,
		{{Allow: false, Access: "rwm"}},
		{{Allow: true, Access: "rwm"}},
		{{Allow: false, Access: "rwm"}, devRule(true, "c", 1, 5, "r"), devRule(true, "b", 8, -1, "rw")},
		{{Allow: true, Type: "a"}, devRule(false, "c", 1, 5, "m"), {Allow: true, Type: "c", Major: major(136), Access: "rwm"}},
	}
	rnd := mrand.New(mrand.NewPCG(1, 2))
	for range 200 {
		var rules []specs.LinuxDeviceCgroup
		for range rnd.IntN(6) {
			r := specs.LinuxDeviceCgroup{Allow: rnd.IntN(2) == 0, Type: []string{"", "a", "b", "c"}[rnd.IntN(4)], Access: []string{"", "r", "w", "m", "rw", "rm", "wm", "rwm"}[rnd.IntN(8)]}
			if rnd.IntN(2) == 0 {
				r.Major = major(int64(rnd.IntN(300)) - 1)
			}
			if rnd.IntN(2) == 0 {
				r.Minor = major(int64(rnd.IntN(300)) - 1)
			}
			rules = append(rules, r)
		}
		sets = append(sets, rules)
	}
	for _, rules := range sets {
		want, err := ciliumFilter(rules)
		require.NoError(t, err)
		var buf bytes.Buffer
		var order binary.ByteOrder = binary.LittleEndian
		if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
			order = binary.BigEndian
		}
		require.NoError(t, want.Marshal(&buf, order))
		got, err := deviceFilter(rules)
		require.NoError(t, err)
		assert.Equal(t, buf.Bytes(), encode(got), "%+v", rules)
	}
}

// cgroup2Root is a mounted cgroup2 hierarchy: /sys/fs/cgroup on a pure v2
// host, /sys/fs/cgroup/unified on a hybrid one (device programs work
// there too).
func cgroup2Root(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p
		}
	}
	t.Skip("no cgroup2 hierarchy mounted at /sys/fs/cgroup or /sys/fs/cgroup/unified")
	return ""
}

// TestDeviceFilterInKernel attaches each rule set to a fresh cgroup2 group
// and has a process born in it (CLONE_INTO_CGROUP) read /dev/zero (c 1:5).
func TestDeviceFilterInKernel(t *testing.T) {
	testutil.NeedRoot(t, "loading and attaching a cgroup device program")
	root := cgroup2Root(t)
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		read  bool
	}{
		{"no rule denies", nil, false},
		{"deny all", []specs.LinuxDeviceCgroup{denyAll}, false},
		{"allow c 1:5 r", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", 1, 5, "r")}, true},
		{"allow c 1:3 only", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", 1, 3, "rwm")}, false},
		{"allow c *:* r", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", -1, -1, "r")}, true},
		{"allow c 1:* rwm", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", 1, -1, "")}, true},
		{"write is not read", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "c", 1, 5, "w")}, false},
		{"block is not char", []specs.LinuxDeviceCgroup{denyAll, devRule(true, "b", 1, 5, "rwm")}, false},
		{"allow all", []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}, true},
		{"the last match wins: deny", []specs.LinuxDeviceCgroup{{Allow: true}, devRule(false, "c", 1, 5, "r")}, false},
		{"the last match wins: allow", []specs.LinuxDeviceCgroup{denyAll, devRule(false, "c", 1, 5, "r"), devRule(true, "c", 1, 5, "rw")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newV2Group(t, root)
			require.NoError(t, attachDeviceFilter(dir, tc.rules))
			out, err := readZeroIn(t, dir)
			if tc.read {
				assert.NoError(t, err, "%s", out)
			} else {
				require.Error(t, err)
				assert.True(t, strings.Contains(string(out), "Operation not permitted"), "refused by the filter: %s", out)
			}
		})
	}
}

// newV2Group makes a fresh group under the cgroup2 root and removes it when
// the test ends.
func newV2Group(t *testing.T, root string) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	dir := filepath.Join(root, "nsbench-devtest-"+hex.EncodeToString(b))
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Cleanup(func() { assert.NoError(t, os.Remove(dir)) })
	return dir
}

// readZeroIn has a process born in the group (CLONE_INTO_CGROUP) read a
// byte of /dev/zero (c 1:5), and returns its output and error.
func readZeroIn(t *testing.T, dir string) ([]byte, error) {
	t.Helper()
	head, err := exec.LookPath("head")
	require.NoError(t, err)
	cg, err := os.Open(dir)
	require.NoError(t, err)
	defer cg.Close()
	cmd := exec.Command(head, "-c1", "/dev/zero")
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cg.Fd())}
	return cmd.CombinedOutput()
}

// TestLoadProgramShowsVerifierLog: a program the verifier refuses (it
// returns without setting R0) fails with the verifier's reason.
func TestLoadProgramShowsVerifierLog(t *testing.T) {
	testutil.NeedRoot(t, "loading a cgroup device program")
	cgroup2Root(t)
	_, err := loadProgram([]insn{exit()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "verifier: ")
	assert.Contains(t, err.Error(), "R0")
}
