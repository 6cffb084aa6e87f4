package testutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBadBundleRefuses(t *testing.T) {
	for _, text := range []string{
		`{"stage": "validate"}`,                      // no expected error
		`{"stage": "later", "error": "x"}`,           // unknown stage
		`{"stage": "load", "error": "x", "typo": 1}`, // unknown field
	} {
		_, err := ParseBadBundle([]byte(text))
		assert.Error(t, err, text)
	}
}

func TestApplyFilesAndBundlePath(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"ociVersion":"1.0.2","hooks":{}}`), 0o644))
	b, err := ParseBadBundle([]byte(`{"stage":"validate","error":"x",
		"patch":{"hooks":{"poststop":[{"path":"$BUNDLE/h"}]}},
		"files":{"h":{"mode":"0750","data":"#!/bin/sh\n"}}}`))
	require.NoError(t, err)
	require.NoError(t, b.Apply(dir))
	st, err := os.Stat(filepath.Join(dir, "h"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o750), st.Mode().Perm())
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Equal(t, filepath.Join(dir, "h"), got["hooks"].(map[string]any)["poststop"].([]any)[0].(map[string]any)["path"])
	assert.Equal(t, "1.0.2", got["ociVersion"])
}
