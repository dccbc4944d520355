package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNotAtShutdown(t *testing.T) {
	assert.Empty(t, notAtShutdown(1, "systemd-shutdow\n"))
	assert.Contains(t, notAtShutdown(4242, "systemd-shutdow\n"), "not by PID 1")
	assert.Contains(t, notAtShutdown(1, "systemd\n"), `PID 1 is "systemd"`, "a running system, e.g. someone runs the hook by hand")
	assert.Contains(t, notAtShutdown(1, ""), "not systemd-shutdown")
}
