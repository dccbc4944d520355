package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNotAtShutdown(t *testing.T) {
	assert.Empty(t, notAtShutdown("systemd-shutdow\n"))
	assert.Contains(t, notAtShutdown("systemd\n"), `PID 1 is "systemd"`, "a running system, e.g. someone runs the hook by hand")
	assert.Contains(t, notAtShutdown("init\n"), "not systemd-shutdown")
	assert.Contains(t, notAtShutdown(""), "not systemd-shutdown")
}
