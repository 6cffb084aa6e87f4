// Command gen writes runtime/spec's json_gen.go (go generate in
// runtime/spec runs it): the decoders of specs.Spec and everything in it.
package main

import (
	"flag"
	"fmt"
	"os"
	"reflect"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime/spec/internal/jsongen"
)

func main() {
	out := flag.String("o", "json_gen.go", "file to write")
	flag.Parse()
	src, err := jsongen.Generate("spec", reflect.TypeFor[specs.Spec]())
	if err == nil {
		err = os.WriteFile(*out, src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "jsongen:", err)
		os.Exit(1)
	}
}
