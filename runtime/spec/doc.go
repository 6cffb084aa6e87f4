// Package spec loads, validates and generates OCI runtime-spec bundle
// configurations (config.json). Validation happens before the runtime touches
// anything on the host, so a bad bundle never leaves state behind.
package spec
