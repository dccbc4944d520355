package control

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// panicNice is the nice value [Panic] asks for: ramwiped's own (the unit's
// Nice=-20), so that a loaded machine does not keep the request from it.
const panicNice = -20

// raisePriority sets every thread of this process to panicNice, as far as
// it may (root may; a user only down to RLIMIT_NICE, by default not below
// its current value, and then nothing changes). Linux keeps a nice value
// per thread, and threads the Go runtime starts later inherit it from the
// one that starts them. It reads /proc/self/task, which is in memory. In
// a test binary (testing.Testing) it leaves the tests' priority alone.
func raisePriority() {
	if testing.Testing() {
		return
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = unix.Setpriority(unix.PRIO_PROCESS, tid, panicNice)
		}
	}
}
