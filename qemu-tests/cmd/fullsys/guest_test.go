package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEarlyPanic(t *testing.T) {
	for line, want := range map[string]bool{
		"[    3.224986] Kernel panic - not syncing: Fatal exception in interrupt": true,
		"[   45.100000] Kernel panic - not syncing: Attempted to kill init!":      false,
		"[    3.2] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI":                       false,
		"LAB SHELL up 19.55": false,
	} {
		assert.Equal(t, want, earlyPanic(line), "%q", line)
	}
}
