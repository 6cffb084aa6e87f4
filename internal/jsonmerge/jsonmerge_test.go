package jsonmerge

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMerge: the examples of RFC 7386, appendix A.
func TestMerge(t *testing.T) {
	for _, tc := range []struct{ doc, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	} {
		var doc, patch, want any
		require.NoError(t, json.Unmarshal([]byte(tc.doc), &doc))
		require.NoError(t, json.Unmarshal([]byte(tc.patch), &patch))
		require.NoError(t, json.Unmarshal([]byte(tc.want), &want))
		assert.Empty(t, cmp.Diff(want, Merge(doc, patch)), "%s + %s", tc.doc, tc.patch)
	}
}

func TestPatchExpandsVars(t *testing.T) {
	out, err := Patch([]byte(`{"root": {"path": "rootfs"}, "mounts": []}`), []byte(`{"mounts": [{"source": "$BUNDLE/data"}]}`), map[string]string{"$BUNDLE": "/b"})
	require.NoError(t, err)
	var got any
	require.NoError(t, json.Unmarshal(out, &got))
	assert.Equal(t, map[string]any{"root": map[string]any{"path": "rootfs"}, "mounts": []any{map[string]any{"source": "/b/data"}}}, got)
	_, err = Patch([]byte(`{`), []byte(`{}`), nil)
	assert.ErrorContains(t, err, "parse document")
	_, err = Patch([]byte(`{}`), []byte(`{`), nil)
	assert.ErrorContains(t, err, "parse merge patch")
}
