package wipe

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/wipe/kexec"
)

// ErrInTest is returned by the real [Machine] in a test binary.
var ErrInTest = errors.New("refused in a test binary")

// Real returns the Machine that really kexecs and powers off. Only
// ramwiped's main builds it, and only when started with --armed; in a test
// binary its methods refuse with [ErrInTest].
func Real() Machine { return realMachine{} }

type realMachine struct{}

func (realMachine) Kexec() error { return kexec.Exec() }

func (realMachine) PowerOff() error {
	if testing.Testing() {
		return fmt.Errorf("reboot(LINUX_REBOOT_CMD_POWER_OFF): %w", ErrInTest)
	}
	// No sync: the root disk may be suspended, and a sync would block forever.
	return fmt.Errorf("reboot(LINUX_REBOOT_CMD_POWER_OFF) = %w", unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF))
}
