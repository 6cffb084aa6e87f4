// Package testutil holds what the tests of several packages share: the
// root check with its skip reason, the repository's top-level testdata/,
// fixtures globbed into subtests, and the bad bundles of
// testdata/bundles/bad. Only _test.go files import it.
package testutil

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// NeedRoot skips t unless it runs as root; why says what needs root, so the
// skip tells the reader exactly what was not checked.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if euid := os.Geteuid(); euid != 0 {
		t.Skipf("%s: needs root (euid is %d)", why, euid)
	}
}

// Testdata returns the path of elem under the repository's top-level
// testdata/ directory, found from the test's working directory (its
// package directory) by walking up to go.mod.
func Testdata(t testing.TB, elem ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testdata: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(append([]string{dir, "testdata"}, elem...)...)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testdata: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Glob runs one subtest per file of the top-level testdata matching pattern
// (a filepath.Match pattern relative to testdata/), named after the file
// without its extension. No match is a failure: a moved fixture directory
// must not turn a test into one that checks nothing.
func Glob(t *testing.T, pattern string, f func(t *testing.T, path string)) {
	t.Helper()
	paths, err := filepath.Glob(Testdata(t, pattern))
	if err != nil {
		t.Fatalf("glob testdata/%s: %v", pattern, err)
	}
	if len(paths) == 0 {
		t.Fatalf("no fixture matches testdata/%s", pattern)
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		t.Run(name, func(t *testing.T) { f(t, p) })
	}
}

// ReadFile reads a fixture, failing the test when it cannot.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return data
}

func mustf(t testing.TB, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

// ListDir returns the names in dir, sorted, failing the test when it
// cannot read it.
func ListDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	mustf(t, err, "list %s", dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// ExitCode returns the exit code of a command from the error Run or Wait
// gave: 0 for none, the code for an exit error, and a test failure for an
// error that means the command never ran.
func ExitCode(t testing.TB, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("run: %v", err)
	return -1
}

// CheckMeasurements returns an error naming the first number in v (a
// struct, walked through its fields, slices and pointers) that is NaN,
// infinite or negative: what a parser of a tool's output must never
// accept as a measurement (NaN and infinities do not even encode as JSON).
func CheckMeasurements(v any) error {
	return checkValue(reflect.ValueOf(v), reflect.TypeOf(v).Name())
}

func checkValue(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return fmt.Errorf("%s is %v", path, f)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Int() < 0 {
			return fmt.Errorf("%s is %d", path, v.Int())
		}
	case reflect.Pointer:
		if !v.IsNil() {
			return checkValue(v.Elem(), path)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := checkValue(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if err := checkValue(v.Field(i), path+"."+v.Type().Field(i).Name); err != nil {
				return err
			}
		}
	}
	return nil
}
