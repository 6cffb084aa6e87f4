package env

import (
	"context"

	"github.com/nsbench/nsbench/internal/engine"
)

// Engine runs jobs through a container engine, docker or podman, that
// internal/engine brings up privately and takes down again in Close.
type Engine struct {
	*engine.Engine
}

// NewEngine returns the adapter of kind "docker" or "podman". Nothing starts
// until Available (or Run) is called.
func NewEngine(kind, stateDir string) *Engine {
	return &Engine{engine.New(engine.Options{Kind: kind, StateDir: stateDir})}
}

// Name implements Env.
func (e *Engine) Name() string { return e.Kind() }

// Available implements Env: it starts the engine the first time and returns
// the exact reason when that fails.
func (e *Engine) Available(ctx context.Context) error { return e.Start(ctx) }

// Version implements Env.
func (e *Engine) Version(ctx context.Context) string {
	v := e.Engine.Version(ctx)
	if v != "" && e.Kind() == "podman" {
		v += " (runc)"
	}
	return v
}

// Close implements Env.
func (e *Engine) Close() error { return e.Engine.Close() }
