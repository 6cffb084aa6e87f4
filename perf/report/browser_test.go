package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/perf/results"
)

// chromium runs headless Chromium on page with a fresh profile, no
// network services, in its own process group that is killed afterwards.
func chromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers it left
	}
	require.NoError(t, err, "chromium %v: %s", args, stderr.String())
	return out
}

// pageProblems is what a reader would miss in the DOM Chromium built:
// tables with rows, the findings and conditions, the figures.
func pageProblems(dom string, workloads, figures int) []string {
	var p []string
	if n := strings.Count(dom, "<table"); n < workloads {
		p = append(p, "tables: want at least one per workload")
	}
	if rows := regexp.MustCompile(`<tr>\s*<td class="point">`).FindAllString(dom, -1); len(rows) < workloads {
		p = append(p, "table rows missing")
	}
	for _, id := range []string{`id="findings"`, `id="conditions"`} {
		if !strings.Contains(dom, id) {
			p = append(p, "section "+id+" missing")
		}
	}
	if n := strings.Count(dom, `<img alt=`); n != figures {
		p = append(p, "figures missing")
	}
	if !strings.Contains(dom, "</body>") {
		p = append(p, "page not complete")
	}
	return p
}

// TestReportInChromium renders the report of a real run in headless
// Chromium: the DOM it builds has the tables, findings, conditions and
// every figure, and the screenshot is a page, not a blank. A page cut short
// must fail the same check.
func TestReportInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	f, err := results.Load(testutil.Testdata(t, "results", "tiny.json"))
	require.NoError(t, err)
	tables, err := Build(f)
	require.NoError(t, err)
	dir := t.TempDir()
	figs, err := Plots(f, tables, filepath.Join(dir, "plots"))
	require.NoError(t, err)
	page := filepath.Join(dir, "report.html")
	require.NoError(t, HTML(page, f, tables, figs))

	dom := string(chromium(t, bin, "--dump-dom", "file://"+page))
	assert.Empty(t, pageProblems(dom, len(tables), len(figs)))

	shot := filepath.Join(dir, "report.png")
	chromium(t, bin, "--screenshot="+shot, "--window-size=1280,2400", "--hide-scrollbars", "file://"+page)
	b, err := os.ReadFile(shot)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 1280, 2400), img.Bounds())
	assert.Greater(t, distinctColors(img), 20, "a rendered page with tables and plots, not a blank")
	if keep := os.Getenv("NSBENCH_KEEP_SCREENSHOT"); keep != "" {
		require.NoError(t, os.WriteFile(keep, b, 0o644))
	}

	t.Run("a page cut short fails the check", func(t *testing.T) {
		html, err := os.ReadFile(page)
		require.NoError(t, err)
		cut := filepath.Join(dir, "cut.html")
		require.NoError(t, os.WriteFile(cut, html[:bytes.Index(html, []byte("<table"))+200], 0o644))
		dom := string(chromium(t, bin, "--dump-dom", "file://"+cut))
		assert.NotEmpty(t, pageProblems(dom, len(tables), len(figs)))
	})
}

func distinctColors(img image.Image) int {
	seen := map[[3]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 7 {
		for x := r.Min.X; x < r.Max.X; x += 7 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			seen[[3]uint32{cr >> 12, cg >> 12, cb >> 12}] = true
		}
	}
	return len(seen)
}
