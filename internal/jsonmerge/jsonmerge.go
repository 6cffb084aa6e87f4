// Package jsonmerge applies JSON merge patches (RFC 7386) to config files:
// the test fixtures that spoil a bundle (testdata/bundles/bad) and the
// compatibility cases that change runc's default config
// (testdata/compat/bundles) both describe their change this way.
package jsonmerge

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Patch applies patch to the JSON document data and returns the result,
// indented. In the patch's strings each key of vars is replaced by its
// value first ("$BUNDLE" -> the bundle directory, say).
func Patch(data, patch []byte, vars map[string]string) ([]byte, error) {
	var doc, p any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, fmt.Errorf("parse merge patch: %w", err)
	}
	out, err := json.MarshalIndent(Merge(doc, expand(p, vars)), "", "\t")
	if err != nil {
		return nil, fmt.Errorf("encode patched document: %w", err)
	}
	return out, nil
}

func expand(v any, vars map[string]string) any {
	switch v := v.(type) {
	case string:
		for k, val := range vars {
			v = strings.ReplaceAll(v, k, val)
		}
		return v
	case []any:
		for i := range v {
			v[i] = expand(v[i], vars)
		}
	case map[string]any:
		for k := range v {
			v[k] = expand(v[k], vars)
		}
	}
	return v
}

// Merge applies a JSON merge patch to doc, both as decoded by encoding/json
// into any: an object merges key by key, null removes a key, anything else
// (arrays too) replaces.
func Merge(doc, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	d, ok := doc.(map[string]any)
	if !ok {
		d = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(d, k)
			continue
		}
		d[k] = Merge(d[k], v)
	}
	return d
}
