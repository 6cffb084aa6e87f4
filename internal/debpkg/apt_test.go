package debpkg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSourcesList(t *testing.T) {
	got := Bookworm("http://mirror.example/").SourcesList()
	want := "deb [signed-by=" + DebianKeyring + "] http://mirror.example/debian bookworm main\n" +
		"deb [signed-by=" + DebianKeyring + "] http://mirror.example/debian bookworm-updates main\n" +
		"deb [signed-by=" + DebianKeyring + "] http://mirror.example/debian-security bookworm-security main\n"
	assert.Equal(t, want, got)
	assert.NotEqual(t, Bookworm("").id(), Bookworm("http://mirror.example").id(), "another mirror gets other lists")
	_, err := NewRepo(Release{}, "amd64", t.TempDir(), nil)
	assert.ErrorContains(t, err, "release names no suite")
}

// The private apt must see nothing of the host's configuration: apt-config
// run with it names only the private directories, both architectures and
// an empty dpkg status, whatever /etc/apt says.
func TestPrivateAptConfig(t *testing.T) {
	if _, err := os.Stat(DebianKeyring); err != nil {
		t.Skipf("no Debian archive keyring (debian-archive-keyring): %v", err)
	}
	if !haveTool("apt-config") {
		t.Skip("apt-config not found: not a Debian-family host")
	}
	r, err := NewRepo(Bookworm(""), "arm64", t.TempDir(), nil)
	require.NoError(t, err)
	out, err := r.run(context.Background(), "", "apt-config", "dump")
	require.NoError(t, err)
	dump := string(out)
	base := r.aptDir()
	for _, want := range []string{
		`Dir::Etc "` + base + `/etc";`,
		`Dir::Etc::parts "apt.conf.d";`,
		`Dir::State::status "` + base + `/state/status";`,
		`APT::Architectures:: "arm64";`,
	} {
		assert.Contains(t, dump, want)
	}
	// Whatever the host's apt.conf.d sets, none of its files was read.
	hostParts, _ := filepath.Glob("/etc/apt/apt.conf.d/*")
	for _, p := range hostParts {
		assert.NotContains(t, dump, p)
	}
	status, err := os.ReadFile(filepath.Join(base, "state", "status"))
	require.NoError(t, err)
	assert.Empty(t, status, "the host's installed packages must not change what apt picks")
}

func haveTool(name string) bool {
	for _, d := range strings.Split(os.Getenv("PATH"), ":") {
		if st, err := os.Stat(filepath.Join(d, name)); err == nil && st.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// A pinned package comes with exactly its bytes: the right SHA256 unpacks,
// a wrong one is refused and the .deb removed.
func TestFetchPinned(t *testing.T) {
	// The shared cache: its lists are a day fresh, and the packages here
	// are ones nothing else minds being fetched again.
	r := realRepo(t, "amd64")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// zlib1g has an epoch (1:), which file names must survive.
	pin := Pin{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", SHA256: "d7dd1d1411fedf27f5e27650a6eff20ef294077b568f4c8c5e51466dc7c08ce4"}
	p, err := r.FetchPinned(ctx, pin)
	if errors.Is(err, ErrPinGone) || errors.Is(err, ErrArchive) {
		t.Skipf("the archive cannot serve %s %s now: %v", pin.Name, pin.Version, err)
	}
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(p.Root, "lib/x86_64-linux-gnu/libz.so.1"))

	bad := Pin{Name: "hello", Version: "2.10-3", SHA256: strings.Repeat("0", 64)}
	_, err = r.FetchPinned(ctx, bad)
	if errors.Is(err, ErrPinGone) {
		t.Skipf("the archive no longer has %s %s: %v", bad.Name, bad.Version, err)
	}
	require.ErrorContains(t, err, "not the pinned package")
	debs, _ := filepath.Glob(filepath.Join(r.Dir, "amd64", "debs", "hello_*"))
	assert.Empty(t, debs, "the wrong .deb is not kept")

	gone := Pin{Name: "zlib1g", Version: "1:0.0-nsbench", SHA256: pin.SHA256}
	_, err = r.FetchPinned(ctx, gone)
	assert.ErrorIs(t, err, ErrPinGone)
}
