// Package conformance checks, with evidence, that containers made by an OCI
// runtime on the running kernel really isolate. It drives only the OCI
// command line (create, start, state, kill, delete, run) of the runtime
// named by NSBENCH_RUNTIME (default: nsrun built from this tree), so the
// same invariants run against nsrun, runc and crun. Each invariant is a
// function returning an Outcome, so the suite's own tests can show that a
// deliberately broken setting makes exactly the right checks fail.
package conformance
