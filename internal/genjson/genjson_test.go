package genjson

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeStrings is a hand-written stand-in for generated code: an object
// whose every member is a string, or an array of strings under "list".
func decodeStrings(d *Decoder) map[string]any {
	out := map[string]any{}
	d.Object("T", []string{"list"}, func(k string) bool {
		d.Push(k)
		defer d.Pop()
		if k == "list" {
			var l []string
			d.Array("[]string", func() { l = append(l, d.String("string")) })
			out[k] = l
			return true
		}
		out[k] = d.String("string")
		return true
	})
	return out
}

// TestDecodeErrors: syntax errors say where, type errors also which field.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		msg    string
		offset int64
		field  string
	}{
		{`{"a":"x",}`, `invalid character '}' looking for beginning of object key string`, 9, ""},
		{`{"a" "x"}`, `invalid character '"' after object key`, 5, ""},
		{`{"a":"x"`, `unexpected end of JSON input`, 8, ""},
		{`{"a":tru}`, `invalid character '}' in literal true (expecting 'e')`, 8, ""},
		{`{"a":"\q"}`, `invalid character 'q' in string escape code`, 7, ""},
		{`{"a":1}`, `cannot unmarshal number 1 into field a of type string`, 6, "a"},
		{`{"list":["a",{}]}`, `cannot unmarshal object into field list of type string`, 15, "list"},
		{`[]`, `cannot unmarshal array into a value of type T`, 2, ""},
	} {
		d := New([]byte(tc.in))
		decodeStrings(d)
		err := d.Err()
		require.Error(t, err, tc.in)
		assert.Equal(t, tc.msg, err.Error(), tc.in)
		switch e := err.(type) {
		case *SyntaxError:
			assert.Equal(t, tc.offset, e.Offset, tc.in)
		case *TypeError:
			assert.Equal(t, tc.offset, e.Offset, tc.in)
			assert.Equal(t, tc.field, e.Field, tc.in)
		}
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	deep := `{"a":` + string(repeat('[', maxDepth)) + string(repeat(']', maxDepth)) + `}`
	d := New([]byte(deep))
	d.Object("T", nil, func(string) bool { return false })
	require.Error(t, d.Err())
	assert.Equal(t, "exceeded max depth", d.Err().Error())
}

func repeat(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func TestEncodeString(t *testing.T) {
	var e Encoder
	e.String("a\"\\\b\f\n\r\t\x01<>&\u2028\u2029\x7f\xff é")
	assert.Equal(t, `"a\"\\\b\f\n\r\t\u0001\u003c\u003e\u0026\u2028\u2029`+"\x7f"+`\ufffd é"`, string(e.Bytes()))
}
