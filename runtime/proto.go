package runtime

import (
	"encoding/json"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime/nsenter"
	"github.com/nsbench/nsbench/runtime/rootfs"
	"github.com/nsbench/nsbench/runtime/seccomp"
	"github.com/nsbench/nsbench/runtime/spec"
)

// The contract between nsrun and the process it starts as `nsrun init`,
// all in this file (the C constructor's part is in runtime/nsenter).
//
// The init finds its socket to the parent through the environment variable
// nsenter.EnvSyncFD and its sealed executable through envExeFD; every other
// descriptor number travels in the config.
// When the init must join namespaces by path (or is an exec), the parent
// first sends an nsenter.Request and the constructor answers with
// nsenter.MsgIDMap (new user namespace: parent writes the maps and answers
// nsenter.Ack) and nsenter.MsgPid (the process that goes on).
//
// Then, for create:
//
//	parent -> init   msgConfig      what to build
//	init   -> parent msgNamespaces  namespaces exist: run createRuntime hooks
//	parent -> init   msgContinue
//	init   -> parent msgReady       rootfs pivoted, blocked before execve
//
// and for exec:
//
//	parent -> init   msgExec        the process to run
//	(the socket closes on a successful execve)
//
// and msgError from init at any point instead.
const (
	msgConfig     = "config"
	msgExec       = "exec"
	msgNamespaces = "namespaces"
	msgContinue   = "continue"
	msgReady      = "ready"
	msgError      = nsenter.MsgError
	msgIDMap      = nsenter.MsgIDMap
	msgPid        = nsenter.MsgPid
)

// envExeFD names the descriptor of the sealed executable the init was
// started from; the init closes it first thing.
const envExeFD = "_NSRUN_EXE_FD"

// EnvTestPause names a step at which an nsrun command stops for good
// (Runtime.PauseAt; cmd/nsrun reads it): the fault tests SIGKILL nsrun
// there and check that no state is torn and delete --force cleans up.
const EnvTestPause = "_NSRUN_TEST_PAUSE"

// PauseSteps returns the steps Runtime.PauseAt can name, per command, in
// the order they are reached (create's on cgroup v1; on v2 the record and
// the cgroup come before the init and its config).
func PauseSteps() map[string][]string {
	return map[string][]string{
		"create": {"before-config", "state-saved", "cgroup-created", "init-started", "hooks-done", "ready", "created-saved"},
		"start":  {"start-locked", "fifo-written", "start-saved"},
		"exec":   {"exec-locked", "exec-spawned", "exec-sent"},
		"delete": {"delete-locked", "delete-killed", "cgroup-destroyed", "poststop-done"},
	}
}

// envTraceFD names nsrun's trace file (package timeline) when it records
// one: the init appends its points to it until its execve.
const envTraceFD = "_NSRUN_TRACE_FD"

// fifoName is the exec fifo in the container's state directory: `create`
// makes it, the init blocks reading it, `start` writes it and removes it,
// and its existence means "created".
const fifoName = "exec.fifo"

// resultName is the start result fifo beside the exec fifo: `create` makes
// it and hands it to the init, `start` opens it for reading before it
// releases the init. The init's end closes on execve, so `start` reads
// end-of-file once the container's program runs, or the text of whatever
// failed in between (a startContainer hook, the credentials, the execve)
// when the init gives up: the runtime-spec has start fail then.
const resultName = "exec.result"

// maxResult bounds the error text the init reports on the result fifo:
// one write of at most PIPE_BUF bytes lands whole, whoever reads.
const maxResult = 4096

// filterName is the compiled seccomp filter in a container's state
// directory: `exec` loads it into every process it starts there, so the
// profile compiles once per container.
const filterName = "seccomp.json"

type message struct {
	Type string `json:"type"`
	// Error text, already naming the operation and path.
	Error string `json:"error,omitempty"`
	// Pid, with msgPid.
	Pid int `json:"pid,omitempty"`
	// Config, with msgConfig.
	Config *initConfig `json:"config,omitempty"`
	// Exec, with msgExec.
	Exec *execConfig `json:"exec,omitempty"`
}

// initConfig is what the init needs to build the container.
type initConfig struct {
	// State is the container's OCI state as create recorded it (host pid
	// of the init included): the hooks the init runs get it.
	State  specs.State `json:"state"`
	Rootfs string      `json:"rootfs"`
	Spec   *specs.Spec `json:"spec"`
	// CgroupV2 and CgroupV1 tell how to honour a "cgroup" mount.
	CgroupV2 bool                   `json:"cgroupV2"`
	CgroupV1 []rootfs.CgroupV1Mount `json:"cgroupV1,omitempty"`
	// FirstFD is the first descriptor not to pass on (3 + preserved fds).
	FirstFD int `json:"firstFD"`
	// FifoFD is the exec fifo, opened read-write by create.
	FifoFD int `json:"fifoFD"`
	// ResultFD is the start result fifo, opened read-write by create.
	ResultFD int `json:"resultFD"`
	// ConsoleFD is the console socket for process.terminal, or -1.
	ConsoleFD int `json:"consoleFD"`
	// Seccomp is linux.seccomp compiled by create (Spec comes without it).
	Seccomp *seccomp.Filter `json:"seccomp,omitempty"`
}

// MarshalJSON encodes the config as encoding/json would, the spec with
// package spec's generated encoders (see UnmarshalJSON).
func (c *initConfig) MarshalJSON() ([]byte, error) {
	raw, err := spec.Encode(c.Spec)
	if err != nil {
		return nil, fmt.Errorf("the config's spec: %w", err)
	}
	type plain initConfig // without this method
	return json.Marshal(struct {
		*plain
		Spec json.RawMessage `json:"spec"`
	}{(*plain)(c), raw})
}

// UnmarshalJSON decodes the config as encoding/json would, the spec with
// package spec's generated decoders: the init decodes one config and would
// otherwise spend about 1 ms of CPU on encoding/json's reflection over the
// spec's types, while nsrun waits for it.
func (c *initConfig) UnmarshalJSON(data []byte) error {
	type plain initConfig // without this method
	aux := struct {
		*plain
		Spec json.RawMessage `json:"spec"`
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	s, err := spec.DecodeRaw(aux.Spec)
	if err != nil {
		return fmt.Errorf("the config's spec: %w", err)
	}
	c.Spec = s
	return nil
}

// execConfig is what an exec'd process needs once it is in the
// container's namespaces and cgroup.
type execConfig struct {
	Process *specs.Process `json:"process"`
	// FirstFD is the first descriptor not to pass on (3 + preserved fds).
	FirstFD int `json:"firstFD"`
	// ConsoleFD is the console socket for process.terminal, or -1.
	ConsoleFD int `json:"consoleFD"`
	// Seccomp is the container's linux.seccomp, compiled by exec.
	Seccomp *seccomp.Filter `json:"seccomp,omitempty"`
	// Personality is the container's linux.personality: an exec'd process
	// is forked by nsrun, not by the container's init, and inherits none.
	Personality *specs.LinuxPersonality `json:"personality,omitempty"`
}

// conn speaks newline-delimited JSON messages over the socketpair.
type conn struct {
	rw  io.ReadWriter
	enc *json.Encoder
	dec *json.Decoder
}

func newConn(rw io.ReadWriter) *conn {
	return &conn{rw: rw, enc: json.NewEncoder(rw), dec: json.NewDecoder(rw)}
}

func (c *conn) send(m message) error {
	if err := c.enc.Encode(m); err != nil {
		return fmt.Errorf("send %s message to the container's init: %w", m.Type, err)
	}
	return nil
}

func (c *conn) recv() (message, error) {
	var m message
	err := c.dec.Decode(&m)
	return m, err
}

// sendRaw writes bytes outside the JSON stream: the nsenter request and
// its acknowledgements, which the C constructor reads before any JSON.
func (c *conn) sendRaw(b []byte) error {
	if _, err := c.rw.Write(b); err != nil {
		return fmt.Errorf("send nsenter request to the container's init: %w", err)
	}
	return nil
}
