package spec

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ValidateProcess checks the process of an `exec` by the rules of
// config.json's process; source names where it came from (the --process
// file, or "exec" for one made from flags) in the errors.
func ValidateProcess(p *specs.Process, source string) error {
	err := validateProcess(p)
	setSource(err, source)
	return err
}

func setSource(err error, source string) {
	var e *Error
	if errors.As(err, &e) && e == err {
		e.Source = source
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, err := range j.Unwrap() {
			setSource(err, source)
		}
	}
}
