package network

import (
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/testutil"
)

// TestParseLeases: the lease files of testdata/leases; the bad- ones are
// damaged and refused with what is wrong.
func TestParseLeases(t *testing.T) {
	want := map[string]string{
		"bad-same-address": "leased to both c1 and c2",
		"bad-no-address":   `lease of c1: "invalid IP" is not an IPv4 address`,
		"bad-ipv6":         "is not an IPv4 address",
		"bad-no-id":        "has no container id",
	}
	testutil.Glob(t, filepath.Join("leases", "*.json"), func(t *testing.T, path string) {
		l, err := parseLeases(testutil.ReadFile(t, path))
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		if msg, bad := want[name]; bad {
			require.Error(t, err)
			assert.Contains(t, err.Error(), msg)
			return
		}
		require.NoError(t, err)
		assert.Len(t, l.ids(), len(l))
	})
}

// FuzzLeases: any lease file is refused or parsed into leases that encode
// and parse back to the same; allocating from them, with or without an
// address asked for, gives a free host address of the subnet that is not
// the bridge's, or an error. Seeds: testdata/leases.
func FuzzLeases(f *testing.F) {
	testutil.Seed(f, filepath.Join("leases", "*.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseLeases(data)
		if err != nil {
			return
		}
		enc, err := json.Marshal(l)
		if err != nil {
			t.Fatalf("accepted leases do not encode: %v", err)
		}
		back, err := parseLeases(enc)
		if err != nil {
			t.Fatalf("accepted leases do not parse back: %v", err)
		}
		if diff := cmp.Diff(l, back, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Fatalf("leases change when written back:\n%s", diff)
		}
		for _, bits := range []int{22, 24, 30, 31, 32} {
			p := netip.PrefixFrom(netip.MustParseAddr("10.209.1.0"), bits).Masked()
			// No address asked for, the first container address, and the
			// first few held ones (which must be refused).
			wants := []netip.Addr{{}, p.Addr().Next().Next()}
			for _, id := range l.ids()[:min(3, len(l))] {
				wants = append(wants, l[id])
			}
			for _, want := range wants {
				checkAllocate(t, l, p, want)
			}
		}
	})
}

func checkAllocate(t *testing.T, l leases, p netip.Prefix, want netip.Addr) {
	a, err := l.allocate(p, want)
	if err != nil {
		return
	}
	switch {
	case !p.Contains(a):
		t.Fatalf("allocate in %s gave %s, outside it", p, a)
	case a == p.Masked().Addr() || a == broadcast(p) || a == Gateway(p):
		t.Fatalf("allocate in %s gave %s, the network, broadcast or bridge address", p, a)
	case want.IsValid() && a != want:
		t.Fatalf("allocate of %s in %s gave %s", want, p, a)
	}
	for id, held := range l {
		if held == a {
			t.Fatalf("allocate in %s gave %s, leased to %s", p, a, id)
		}
	}
}
