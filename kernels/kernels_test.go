package kernels

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/internal/testutil"
)

func TestParseConfig(t *testing.T) {
	text := "# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\n\nCONFIG_A=m\n"
	got, err := ParseConfig("t.config", text)
	require.NoError(t, err)
	want := map[string]string{"CONFIG_A": "m", "CONFIG_B": "n", "CONFIG_C": `"x y"`}
	assert.Empty(t, cmp.Diff(want, got))

	for _, bad := range []string{"A=y", "CONFIG_A", "CONFIG_A=", "CONFIG_A =y", "CONFIG_=y", "CONFIG_A-B=y"} {
		_, err := ParseConfig("bad.config", bad)
		assert.ErrorContains(t, err, "bad.config:1", bad)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name             string
		requested, final map[string]string
		want             []string
	}{
		{"all stuck", map[string]string{"CONFIG_A": "y", "CONFIG_B": "n"}, map[string]string{"CONFIG_A": "y"}, nil},
		{"dropped", map[string]string{"CONFIG_A": "y"}, map[string]string{}, []string{"CONFIG_A: requested y, got n"}},
		{"module instead of built-in", map[string]string{"CONFIG_A": "y"}, map[string]string{"CONFIG_A": "m"}, []string{"CONFIG_A: requested y, got m"}},
		{"not set requested but on", map[string]string{"CONFIG_SIT": "n"}, map[string]string{"CONFIG_SIT": "y"}, []string{"CONFIG_SIT: requested n, got y"}},
		{"quoted values equal", map[string]string{"CONFIG_S": `"a"`}, map[string]string{"CONFIG_S": `"a"`}, nil},
		{"sorted", map[string]string{"CONFIG_Z": "y", "CONFIG_A": "y"}, map[string]string{}, []string{"CONFIG_A: requested y, got n", "CONFIG_Z: requested y, got n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range Check(tc.requested, tc.final) {
				got = append(got, m.String())
			}
			assert.Empty(t, cmp.Diff(tc.want, got))
		})
	}
}

func TestCheckErrorNamesEveryOption(t *testing.T) {
	err := &CheckError{Config: "/x/.config", Mismatches: []Mismatch{{Symbol: "CONFIG_A", Want: "y", Got: "n", Why: "depends on B"}}}
	assert.Contains(t, err.Error(), "CONFIG_A: requested y, got n (depends on B)")
	assert.Contains(t, err.Error(), "/x/.config")
}

func TestExplainFindsDependency(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "fs/foo"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "fs/foo/Kconfig"), []byte("config FOO_FS\n\ttristate \"foo\"\n\tdepends on BLOCK\n"), 0o644))
	ms := []Mismatch{{Symbol: "CONFIG_FOO_FS", Want: "y", Got: "n"}}
	explain(src, "x86_64", ms)
	assert.Equal(t, "depends on BLOCK", ms[0].Why)
}

func TestEmbeddedFragmentsParse(t *testing.T) {
	entries, err := configFS.ReadDir("configs")
	require.NoError(t, err)
	for _, e := range entries {
		text, ok := readEmbedded(e.Name())
		require.True(t, ok)
		switch filepath.Ext(e.Name()) {
		case ".config":
			_, err = ParseConfig(e.Name(), text)
		case ".sysctl":
			_, err = ParseSysctls(e.Name(), text)
		}
		assert.NoError(t, err, e.Name())
	}
}

func TestPlanFragments(t *testing.T) {
	for _, tc := range []struct {
		variant, arch string
		plugins       bool
		want          []string
	}{
		{"stock", "x86_64", true, []string{"base.config", "base-x86_64.config", "stock.config"}},
		{"stock", "arm64", false, []string{"base.config", "base-arm64.config", "stock.config"}},
		{"hardened", "x86_64", false, []string{"base.config", "base-x86_64.config", "hardened.config", "hardened-x86_64.config", "hardened-mitigations.config"}},
		{"hardened", "x86_64", true, []string{"base.config", "base-x86_64.config", "hardened.config", "hardened-x86_64.config", "hardened-plugins.config", "hardened-mitigations.config"}},
		{"hardened", "arm64", true, []string{"base.config", "base-arm64.config", "hardened.config", "hardened-arm64.config", "hardened-plugins.config"}},
		{"aufs", "x86_64", false, []string{"base.config", "base-x86_64.config", "aufs.config"}},
	} {
		t.Run(tc.variant+"/"+tc.arch, func(t *testing.T) {
			p, err := makePlan(tc.variant, tc.arch, "gcc 12", tc.plugins, "")
			require.NoError(t, err)
			var got []string
			for _, f := range p.fragments {
				got = append(got, f.name)
			}
			assert.Empty(t, cmp.Diff(tc.want, got))
			if tc.variant == "hardened" {
				assert.Equal(t, "0", p.sysctls["user.max_user_namespaces"])
				assert.Contains(t, p.cmdline, "init_on_free=1")
			} else {
				assert.Empty(t, p.cmdline)
			}
		})
	}
}

func TestMitigationsSymbolFollowsTree(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "arch/x86"), 0o755))
	for _, tc := range []struct{ kconfig, want string }{
		{"menuconfig SPECULATION_MITIGATIONS\n", "CONFIG_SPECULATION_MITIGATIONS=y\n"},
		{"menuconfig CPU_MITIGATIONS\n", "CONFIG_CPU_MITIGATIONS=y\n"},
	} {
		require.NoError(t, os.WriteFile(filepath.Join(src, "arch/x86/Kconfig"), []byte(tc.kconfig), 0o644))
		p, err := makePlan("hardened", "x86_64", "gcc", false, src)
		require.NoError(t, err)
		assert.Equal(t, tc.want, p.fragments[len(p.fragments)-1].text)
	}
}

func TestKeyStability(t *testing.T) {
	base, err := makePlan("stock", "x86_64", "gcc 12", false, "")
	require.NoError(t, err)
	k := base.key("tar:abc", "")
	again, err := makePlan("stock", "x86_64", "gcc 12", false, "")
	require.NoError(t, err)
	assert.Equal(t, k, again.key("tar:abc", ""), "same inputs, same key")

	changed := func(mut func(p *plan)) string {
		p, err := makePlan("stock", "x86_64", "gcc 12", false, "")
		require.NoError(t, err)
		mut(p)
		return p.key("tar:abc", "")
	}
	for name, mut := range map[string]func(p *plan){
		"fragment text": func(p *plan) { p.fragments[0].text += "CONFIG_X=y\n" },
		"compiler":      func(p *plan) { p.compiler = "gcc 13" },
		"arch":          func(p *plan) { p.arch = "arm64" },
		"cmdline":       func(p *plan) { p.cmdline = []string{"quiet"} },
		"sysctl":        func(p *plan) { p.sysctls["a"] = "1" },
		"plugins":       func(p *plan) { p.plugins = true },
	} {
		assert.NotEqual(t, k, changed(mut), name)
	}
	assert.NotEqual(t, k, base.key("tar:def", ""), "source")
	assert.NotEqual(t, k, base.key("tar:abc", "aufs1"), "aufs checkout")
}

func TestBuildBadInput(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"unknown variant", Options{Variant: "grsec"}, `unknown kernel variant "grsec"`},
		{"distro", Options{Variant: "distro"}, "make vmtest KERNEL=distro"},
		{"unknown arch", Options{Variant: "stock", Arch: "riscv64"}, `unknown kernel arch "riscv64"`},
		{"aufs without source", Options{Variant: "aufs", Src: "/usr/src/linux-source-6.1.tar.xz"}, "git clone -b aufs6.1 https://github.com/sfjro/aufs-standalone"},
		{"missing source", Options{Variant: "stock", Src: "/nonexistent/linux.tar.xz", CacheDir: t.TempDir()}, "kernel source /nonexistent/linux.tar.xz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(ctx, tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestAufsIncompleteCheckout(t *testing.T) {
	dir := t.TempDir()
	err := applyAufs(context.Background(), t.TempDir(), dir, filepath.Join(t.TempDir(), "dst"), "6.1.192")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aufs6-kbuild.patch missing")
	assert.Contains(t, err.Error(), "branch aufs6.1")
}

func TestSysctls(t *testing.T) {
	got, err := ParseSysctls("x", "# c\na.b = 1\n\nc=two words\n")
	require.NoError(t, err)
	assert.Empty(t, cmp.Diff(map[string]string{"a.b": "1", "c": "two words"}, got))
	for _, bad := range []string{"novalue\n", "kernel kptr=2\n", "=1\n"} {
		_, err = ParseSysctls("x", bad)
		assert.ErrorContains(t, err, "x:1", bad)
	}
}

// TestBuildReal builds (or takes from the cache) a real stock kernel. It is
// minutes of compiling on a cache miss, so it runs only when asked.
func TestBuildReal(t *testing.T) {
	if os.Getenv("NSBENCH_KERNEL_BUILD") != "1" {
		t.Skip("real kernel build: set NSBENCH_KERNEL_BUILD=1 (a cache miss compiles for ~10 minutes)")
	}
	k, err := Build(context.Background(), Options{Variant: "stock", Arch: "x86_64"})
	require.NoError(t, err)
	assert.FileExists(t, k.Image)
	assert.True(t, strings.HasPrefix(k.Version, "6.1"), k.Version)
	cfg, err := os.ReadFile(k.ConfigPath)
	require.NoError(t, err)
	final, err := ParseConfig(k.ConfigPath, string(cfg))
	require.NoError(t, err)
	assert.Equal(t, "y", final["CONFIG_SLUB"], "tinyconfig's SLOB must have been replaced")
	assert.Equal(t, "n", final["CONFIG_IPV6_SIT"])
	require.NotNil(t, k.Source)
	assert.Equal(t, DebianSource().TarballSHA256, k.Source.SHA256, "the build records its source's checksum")
}

func TestExplainFindsEnclosingIfs(t *testing.T) {
	src := t.TempDir()
	for p, text := range map[string]string{
		// As fs/Kconfig sources aufs: inside a menu's "if".
		"fs/Kconfig":       "menuconfig MISC_FILESYSTEMS\n\tbool \"misc\"\n\nif MISC_FILESYSTEMS\nsource \"fs/bar/Kconfig\"\nendif # MISC_FILESYSTEMS\n",
		"fs/bar/Kconfig":   "config BAR_FS\n\ttristate \"bar\"\n\nif BAR_FS\nconfig BAR_FS_DEBUG\n\tbool \"debug\"\n\tdepends on DEBUG_KERNEL\nendif\n",
		"arch/arm/Kconfig": "config BAR_FS\n\tdepends on ARM\n",
		"arch/x86/Kconfig": "config OTHER\n\tbool\n",
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(src, p), []byte(text), 0o644))
	}
	ms := []Mismatch{{Symbol: "CONFIG_BAR_FS", Want: "y", Got: "n"}, {Symbol: "CONFIG_BAR_FS_DEBUG", Want: "y", Got: "n"}}
	explain(src, "x86_64", ms)
	assert.Equal(t, `fs/bar/Kconfig is sourced inside "if MISC_FILESYSTEMS" in fs/Kconfig`, ms[0].Why, "other arches' Kconfig is not read")
	assert.Equal(t, `inside "if BAR_FS" in fs/bar/Kconfig; depends on DEBUG_KERNEL; fs/bar/Kconfig is sourced inside "if MISC_FILESYSTEMS" in fs/Kconfig`, ms[1].Why)
}

func TestExplainSkipsHelpAndMenus(t *testing.T) {
	src := t.TempDir()
	text := "config BAZ\n\ttristate \"baz\"\n\tdepends on NET\n\thelp\n\t  if you say Y here, you get baz.\n\t  depends on nothing, really.\n\n\t  endif is just a word.\n\nchoice\n\tprompt \"level\"\n\tdepends on BAZ\nendchoice\n"
	require.NoError(t, os.WriteFile(filepath.Join(src, "Kconfig"), []byte(text), 0o644))
	ms := []Mismatch{{Symbol: "CONFIG_BAZ", Want: "y", Got: "n"}}
	explain(src, "x86_64", ms)
	assert.Equal(t, "depends on NET", ms[0].Why)
	assert.Equal(t, 0, indent("x"))
	assert.Equal(t, 10, indent("\t  x"))
	assert.Equal(t, 8, indent("   \tx"))
}

func TestExplainUnknownSymbol(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "arch/x86"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "arch/x86/Kconfig"), []byte("config RETPOLINE\n\tbool\n"), 0o644))
	ms := []Mismatch{{Symbol: "CONFIG_HARDEN_BRANCH_PREDICTOR", Want: "y", Got: "n"}, {Symbol: "CONFIG_RETPOLINE", Want: "y", Got: "n"}}
	explain(src, "arm64", ms)
	for _, m := range ms {
		assert.Equal(t, "no Kconfig entry for arm64 in this tree: removed, renamed or another arch's", m.Why, m.Symbol)
	}
}

// The pinned Debian source comes through the private apt on any host, and
// is exactly the pinned tarball; a wrong pin is refused.
func TestFetchDebianSource(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads the 139 MB linux-source-6.1 package once: skipped in -short mode")
	}
	testutil.NeedRoot(t, "the package cache under /var/cache/nsbench")
	if _, err := os.Stat(debpkg.DebianKeyring); err != nil {
		t.Skipf("no Debian archive keyring (make deps-kernel): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	repo, err := debpkg.NewRepo(debpkg.Bookworm(""), "amd64", "", nil)
	require.NoError(t, err)
	pin := DebianSource()
	tarball, err := FetchSource(ctx, pin, repo)
	if errors.Is(err, debpkg.ErrArchive) {
		t.Skipf("the Debian archive is not reachable: %v", err)
	}
	require.NoError(t, err)
	sum, err := debpkg.HashFile(tarball)
	require.NoError(t, err)
	assert.Equal(t, pin.TarballSHA256, sum)

	_, err = resolveSource(ctx, tarball, strings.Repeat("0", 64), t.TempDir(), nil)
	assert.ErrorContains(t, err, "not the pinned source")
}

func TestVariantOptions(t *testing.T) {
	h, err := VariantOptions("hardened", "x86_64")
	require.NoError(t, err)
	assert.Equal(t, "y", h["CONFIG_INIT_ON_FREE_DEFAULT_ON"], "a KSPP option")
	assert.Equal(t, "y", h["CONFIG_CPU_MITIGATIONS"], "the renamed mitigations switch in both spellings")
	assert.Equal(t, "y", h["CONFIG_SPECULATION_MITIGATIONS"])
	assert.NotContains(t, h, "CONFIG_VETH", "the common base is not the variant's")
	ha, err := VariantOptions("hardened", "arm64")
	require.NoError(t, err)
	assert.Contains(t, ha, "CONFIG_ARM64_PTR_AUTH_KERNEL")
	s, err := VariantOptions("stock", "x86_64")
	require.NoError(t, err)
	assert.Empty(t, s)
	_, err = VariantOptions("nosuch", "x86_64")
	assert.ErrorContains(t, err, `unknown kernel variant "nosuch"`)
}
