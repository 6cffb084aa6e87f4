package debpkg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/flock"
)

// Release is the Debian release packages are taken from, whatever the host
// runs: apt reads it through a private configuration under the cache (its
// own sources, lists, empty dpkg status, no host apt.conf.d), so a Debian
// 13 or an Ubuntu host fetches exactly the packages a Debian 12 host does.
type Release struct {
	// Suites are read together, e.g. bookworm and bookworm-security (where
	// Debian publishes the kernel's point releases).
	Suites []Suite
	// Keyring verifies the archive's Release files (debian-archive-keyring).
	Keyring string
}

// Suite is one line of the private sources.list.
type Suite struct {
	URI, Suite string
}

// DefaultMirror is Debian's CDN.
const DefaultMirror = "http://deb.debian.org"

// DebianKeyring is where debian-archive-keyring installs the archive keys
// (Debian and Ubuntu alike).
const DebianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// Bookworm is Debian 12 from mirror (DefaultMirror when empty): the release
// nsbench's kernel source, build root and guest packages come from.
func Bookworm(mirror string) Release {
	if mirror == "" {
		mirror = DefaultMirror
	}
	mirror = strings.TrimRight(mirror, "/")
	return Release{
		Suites: []Suite{
			{mirror + "/debian", "bookworm"},
			{mirror + "/debian", "bookworm-updates"},
			{mirror + "/debian-security", "bookworm-security"},
		},
		Keyring: DebianKeyring,
	}
}

// Name is the first suite's name.
func (rel Release) Name() string {
	if len(rel.Suites) == 0 {
		return ""
	}
	return rel.Suites[0].Suite
}

// SourcesList is the release as sources.list lines, each signed by the
// keyring: what the private apt and mmdebstrap read.
func (rel Release) SourcesList() string {
	var b strings.Builder
	for _, s := range rel.Suites {
		fmt.Fprintf(&b, "deb [signed-by=%s] %s %s main\n", rel.Keyring, s.URI, s.Suite)
	}
	return b.String()
}

// id names the release's private apt directory: suites and keyring path.
func (rel Release) id() string {
	h := sha256.Sum256([]byte(rel.SourcesList()))
	return rel.Name() + "-" + hex.EncodeToString(h[:6])
}

// listsMaxAge is how old the private package lists may get before apt
// reads them again: a point release moves candidates, and a stale list
// names .debs the archive no longer has.
const listsMaxAge = 24 * time.Hour

// aptDir is the private apt's root for rel: etc/ (apt.conf, sources.list,
// empty parts directories), state/ (lists, an empty dpkg status), cache/.
func (r *Repo) aptDir() string {
	return filepath.Join(r.Dir, "apt", r.Release.id())
}

// aptConfig writes the private configuration (once) and returns the path
// for APT_CONFIG. apt reads APT_CONFIG first and takes Dir::Etc::Parts and
// Dir::Etc::main from it, so the host's /etc/apt never comes in.
func (r *Repo) aptConfig() (string, error) {
	base := r.aptDir()
	for _, d := range []string{"etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d", "etc/trusted.gpg.d", "state/lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return "", fmt.Errorf("create private apt directory %s: %w", filepath.Join(base, d), err)
		}
	}
	if _, err := os.Stat(r.Release.Keyring); err != nil {
		return "", fmt.Errorf("archive keyring %s: %w (install debian-archive-keyring: make deps-kernel)", r.Release.Keyring, err)
	}
	files := map[string]string{
		"etc/sources.list": r.Release.SourcesList(),
		"etc/empty.conf":   "",
		"state/status":     "",
		"etc/apt.conf": fmt.Sprintf(`// nsbench's private apt for Debian %[2]s: nothing of the host's apt configuration.
Dir::Etc "%[1]s/etc";
Dir::Etc::main "empty.conf";
Dir::Etc::Parts "apt.conf.d";
Dir::Etc::SourceList "sources.list";
Dir::Etc::SourceParts "sources.list.d";
Dir::Etc::Preferences "preferences";
Dir::Etc::PreferencesParts "preferences.d";
Dir::Etc::Trusted "trusted.gpg";
Dir::Etc::TrustedParts "trusted.gpg.d";
Dir::State "%[1]s/state";
Dir::State::status "%[1]s/state/status";
Dir::Cache "%[1]s/cache";
APT::Architecture "amd64";
APT::Architectures { "amd64"; "arm64"; };
Acquire::Languages "none";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
APT::Install-Recommends "false";
`, base, r.Release.Name()),
	}
	for name, text := range files {
		p := filepath.Join(base, name)
		if old, err := os.ReadFile(p); err == nil && string(old) == text {
			continue
		}
		if err := atomicfile.Write(p, []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	return filepath.Join(base, "etc/apt.conf"), nil
}

// Update makes the private package lists current: it runs apt-get update
// when there are none or they are older than a day. Concurrent callers
// wait for each other.
func (r *Repo) Update(ctx context.Context) error {
	return r.update(ctx, false)
}

func (r *Repo) update(ctx context.Context, force bool) error {
	if _, err := r.aptConfig(); err != nil {
		return err
	}
	unlock, err := flock.Lock(ctx, filepath.Join(r.aptDir(), "lock"))
	if err != nil {
		return err
	}
	defer unlock()
	stamp := filepath.Join(r.aptDir(), "state", "updated")
	if st, err := os.Stat(stamp); err == nil && !force && time.Since(st.ModTime()) < listsMaxAge {
		return nil
	}
	fmt.Fprintf(r.Log, "debpkg: apt-get update (private apt for Debian %s in %s)\n", r.Release.Name(), r.aptDir())
	if _, err := r.run(ctx, "", "apt-get", "update", "-q"); err != nil {
		return fmt.Errorf("%w: %v", ErrArchive, err)
	}
	if err := os.WriteFile(stamp, nil, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", stamp, err)
	}
	return nil
}

// Pin is one exact package: name, version and the SHA256 of its .deb.
type Pin struct {
	Name, Version, SHA256 string
}

// ErrPinGone marks a pinned version the archive no longer serves.
var ErrPinGone = errors.New("the archive no longer has the pinned version")

// FetchPinned fetches and unpacks exactly p (architecture r.Arch, or all),
// checking the .deb's SHA256 against the pin: the same bytes on any host.
func (r *Repo) FetchPinned(ctx context.Context, p Pin) (*Package, error) {
	base, unlock, err := r.lockCache(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	pkg := &Package{Name: p.Name, Version: p.Version,
		Root: filepath.Join(base, "root", p.Name+"_"+safeVersion(p.Version)),
		Deb:  filepath.Join(base, "debs", p.Name+"_"+safeVersion(p.Version)+"_"+r.Arch.Name+".deb")}
	if _, err := os.Stat(pkg.Deb); err != nil {
		info := map[string]*Package{p.Name: pkg}
		if err := r.download(ctx, base, info, []string{p.Name}); err != nil {
			if strings.Contains(err.Error(), "Version '"+p.Version+"'") || strings.Contains(err.Error(), "Can't find a source") {
				return nil, fmt.Errorf("%s %s: %w: %v", p.Name, p.Version, ErrPinGone, err)
			}
			return nil, err
		}
	}
	sum, err := HashFile(pkg.Deb)
	if err != nil {
		return nil, err
	}
	if sum != p.SHA256 {
		// Not ours to keep: a later run downloads it again.
		_ = os.Remove(pkg.Deb)
		return nil, fmt.Errorf("%s: SHA256 %s, pinned %s: not the pinned package (removed it)", pkg.Deb, sum, p.SHA256)
	}
	if _, err := os.Stat(pkg.Root); err != nil {
		if err := r.extract(ctx, pkg); err != nil {
			return nil, err
		}
	}
	return pkg, nil
}

// HashFile is the hex SHA256 of a file.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
