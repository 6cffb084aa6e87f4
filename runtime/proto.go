package runtime

import (
	"encoding/json"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The messages between `create` and the container's init, in order:
//
//	parent -> init   msgConfig      what to build
//	init   -> parent msgNamespaces  namespaces exist: run createRuntime hooks
//	parent -> init   msgContinue
//	init   -> parent msgReady       rootfs pivoted, blocked before execve
//
// and msgError from init at any point instead.
const (
	msgConfig     = "config"
	msgNamespaces = "namespaces"
	msgContinue   = "continue"
	msgReady      = "ready"
	msgError      = "error"
)

type message struct {
	Type string `json:"type"`
	// Error text, already naming the operation and path.
	Error string `json:"error,omitempty"`
	// Config, with msgConfig.
	Config *initConfig `json:"config,omitempty"`
}

// initConfig is what the init needs to build the container.
type initConfig struct {
	ID      string      `json:"id"`
	Bundle  string      `json:"bundle"`
	Rootfs  string      `json:"rootfs"`
	Spec    *specs.Spec `json:"spec"`
	HostPid int         `json:"hostPid"`
	// CgroupV2 tells how to honour a "cgroup" mount.
	CgroupV2 bool `json:"cgroupV2"`
	// FirstFD is the first descriptor not to pass on (3 + preserved fds).
	FirstFD int `json:"firstFD"`
}

// conn speaks newline-delimited JSON messages over the socketpair.
type conn struct {
	enc *json.Encoder
	dec *json.Decoder
}

func newConn(rw io.ReadWriter) *conn {
	return &conn{enc: json.NewEncoder(rw), dec: json.NewDecoder(rw)}
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
