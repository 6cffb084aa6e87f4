package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/runtime/spec/internal/jsongen"
)

// decodeCases are the corners of encoding/json's decoding the generated
// decoder must reproduce; FuzzDecodeMatchesEncodingJSON starts from them.
var decodeCases = []string{
	`{}`, `null`, ` {"ociVersion":"1.0.2"} `, `[]`, `"x"`, `1`, ``, `{`, `{"ociVersion":"1"}x`,
	// null leaves values alone and clears pointers, slices and maps.
	`{"ociVersion":null,"process":null,"mounts":null,"annotations":null}`,
	`{"process":{"args":["a",null,"b"],"terminal":null,"user":null}}`,
	// Keys: case-insensitive after an exact miss; unknown ones skipped.
	`{"OCIVERSION":"x","Process":{"ARGS":["a"]},"unknown":{"a":[1,{"b":null}],"c":"\u00e9"}}`,
	`{"ociVersion":"a","ociversion":"b"}`, `{"ociversion":"b","ociVersion":"a"}`,
	// Repeated keys decode again into what the first left.
	`{"process":{"args":["a"]},"process":{"cwd":"/"}}`,
	`{"mounts":[{"destination":"/a","options":["x"]},{"destination":"/b"}],"mounts":[{"source":"s"}]}`,
	`{"mounts":[{"destination":"/a"},{"destination":"/b"}],"mounts":[],"mounts":[{"type":"t"},{},{}]}`,
	`{"annotations":{"a":"1"},"annotations":{"b":"2"}}`,
	`{"linux":{"resources":{"memory":{"limit":1}}},"linux":{"resources":{"memory":{"swap":2}}}}`,
	// Strings: escapes, surrogates, invalid UTF-8, control characters.
	`{"hostname":"a\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00"}`,
	`{"hostname":"\ud83d x \ude00 \ud83d\u0041 \ud83d\ud83d\ude00"}`,
	"{\"hostname\":\"\xff\xfe a \xc3\xa9 \xe2\x82\"}",
	"{\"hostname\":\"a\x01b\"}", `{"hostname":"\x"}`, `{"hostname":"\u12"}`, `{"hostname":"abc`,
	// Numbers: grammar, range, sign, fraction.
	`{"process":{"user":{"uid":4294967295,"gid":0,"umask":18}}}`,
	`{"process":{"user":{"uid":4294967296}}}`, `{"process":{"user":{"uid":-1}}}`,
	`{"process":{"user":{"uid":1.0}}}`, `{"process":{"user":{"uid":1e3}}}`, `{"process":{"user":{"uid":-0}}}`,
	`{"process":{"oomScoreAdj":-1000}}`, `{"process":{"oomScoreAdj":01}}`, `{"process":{"oomScoreAdj":-}}`,
	`{"process":{"oomScoreAdj":1.}}`, `{"process":{"oomScoreAdj":1e}}`, `{"process":{"oomScoreAdj":9223372036854775808}}`,
	`{"linux":{"resources":{"blockIO":{"weight":65535,"leafWeight":65536}}}}`,
	`{"linux":{"devices":[{"path":"/dev/x","type":"c","major":1,"minor":2,"fileMode":438,"uid":0}]}}`,
	// Embedded structs: major and minor of LinuxBlockIODevice promoted.
	`{"linux":{"resources":{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":10}],"throttleReadBpsDevice":[{"major":8,"rate":1}]}}}}`,
	// Types that do not fit.
	`{"process":{"args":"sh"}}`, `{"process":{"terminal":"yes"}}`, `{"process":[]}`, `{"annotations":{"a":1}}`,
	`{"mounts":{}}`, `{"ociVersion":true}`, `{"process":{"terminal":tru}}`, `{"process":{"terminal":nul}}`,
	// An interface gets what encoding/json gives it.
	`{"windows":{"credentialSpec":{"a":[1,"x",true,null,{"b":2.5}]}}}`, `{"windows":{"credentialSpec":1e400}}`,
	`{"windows":{"credentialSpec":"s"},"windows":{"credentialSpec":null}}`,
	// Syntax.
	`{"a" 1}`, `{"a":1,}`, `{,}`, `[1,]`, `{"a":[1 2]}`, `{"a":-01}`, `{"a":.5}`, `{'a':1}`, "{\"a\":1}\n\n  ", `{} {}`, "\ufeff{}",
}

func decodeBoth(data []byte) (*specs.Spec, error, *specs.Spec, error) {
	var want specs.Spec
	werr := json.Unmarshal(data, &want)
	got, gerr := Decode(data)
	return &want, werr, got, gerr
}

// TestDecodeMatchesEncodingJSON: on every case the generated decoder and
// encoding/json both refuse, or both accept and give the same value (nil
// and empty told apart).
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, c := range append(decodeCases, seedConfigs(t)...) {
		want, werr, got, gerr := decodeBoth([]byte(c))
		if werr != nil || gerr != nil {
			assert.Equal(t, werr != nil, gerr != nil, "%s\nencoding/json: %v\ngenerated: %v", c, werr, gerr)
			continue
		}
		assert.Empty(t, cmp.Diff(want, got), "%s", c)
	}
}

// FuzzDecodeMatchesEncodingJSON is TestDecodeMatchesEncodingJSON for any
// input.
func FuzzDecodeMatchesEncodingJSON(f *testing.F) {
	for _, c := range append(decodeCases, seedConfigs(f)...) {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr, got, gerr := decodeBoth(data)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("encoding/json: %v, generated: %v\n%q", werr, gerr, data)
		}
		if werr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("(-encoding/json +generated):\n%s\n%q", diff, data)
			}
		}
	})
}

// TestEncodeMatchesEncodingJSON: every config encoding/json decodes from
// the cases encodes to the same bytes as json.Marshal gives.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	extra := []string{
		`{"hostname":"<a&b> \u2028\u2029 \u007f \u0001 \"q\" \\ é"}`,
		`{"annotations":{"b":"1","a":"2","":"3","<":"4"},"linux":{"sysctl":{}}}`,
		`{"process":{"args":[],"env":null,"user":{"uid":0,"gid":0},"rlimits":[{"type":"RLIMIT_NOFILE","hard":0,"soft":0}]}}`,
		`{"windows":{"credentialSpec":{"z":[1.5,1e21,1e-7,0.000001,-0,"<"],"a":null}}}`,
		`{"linux":{"resources":{"cpu":{"shares":0,"quota":-1},"blockIO":{"weightDevice":[{"major":1,"minor":2}]}}}}`,
	}
	for _, c := range append(append(decodeCases, extra...), seedConfigs(t)...) {
		var s specs.Spec
		if json.Unmarshal([]byte(c), &s) != nil {
			continue
		}
		want, err := json.Marshal(&s)
		require.NoError(t, err, c)
		got, err := Encode(&s)
		require.NoError(t, err, c)
		assert.Equal(t, string(want), string(got), c)
	}
	got, err := Encode(nil)
	require.NoError(t, err)
	assert.Equal(t, "null", string(got))
}

// FuzzEncodeMatchesEncodingJSON is TestEncodeMatchesEncodingJSON for any
// config encoding/json decodes.
func FuzzEncodeMatchesEncodingJSON(f *testing.F) {
	for _, c := range append(decodeCases, seedConfigs(f)...) {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s specs.Spec
		if json.Unmarshal(data, &s) != nil {
			return
		}
		want, werr := json.Marshal(&s)
		got, gerr := Encode(&s)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("encoding/json: %v, generated: %v\n%q", werr, gerr, data)
		}
		if werr == nil && string(want) != string(got) {
			t.Fatalf("encoding/json:\n%s\ngenerated:\n%s", want, got)
		}
	})
}

// seedConfigs are the default configs and the bad bundles' configs.
func seedConfigs(tb testing.TB) []string {
	var out []string
	for _, rootless := range []bool{false, true} {
		data, err := json.Marshal(Default(rootless))
		require.NoError(tb, err)
		out = append(out, string(data))
	}
	for _, b := range testutil.LoadBadBundles(tb) {
		dir := tb.TempDir()
		data, _ := json.Marshal(Default(false))
		require.NoError(tb, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644))
		require.NoError(tb, b.Apply(dir))
		if data, err := os.ReadFile(filepath.Join(dir, "config.json")); err == nil {
			out = append(out, string(data))
		}
	}
	return out
}

// TestGeneratedUpToDate: json_gen.go is what the generator writes for
// the specs-go in go.mod (run go generate ./runtime/spec after an update).
func TestGeneratedUpToDate(t *testing.T) {
	want, err := jsongen.Generate("spec", reflect.TypeFor[specs.Spec]())
	require.NoError(t, err)
	have, err := os.ReadFile("json_gen.go")
	require.NoError(t, err)
	assert.True(t, string(want) == string(have), "json_gen.go is stale: run go generate ./runtime/spec")
}
