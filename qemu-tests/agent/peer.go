package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// runSdmem is the peer the lab's benchmark compares ramwipe with: it ends
// the session as a shutdown would (every other process killed, the tmpfs
// canary file removed), runs secure-delete's `sdmem -ll` (one pass of
// zeros over all the memory it can allocate, /sbin/sdmem in the guest) and
// powers off. It prints
//
//	LAB SDMEM <seconds> <exit status>
func runSdmem() {
	_ = unix.Kill(-1, unix.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) { // reap them: their memory is free once they are gone
		if pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil); err == unix.ECHILD {
			break
		} else if pid == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	_ = os.Remove("/tmp/canary")
	t := time.Now()
	out, err := exec.Command("/sbin/sdmem", "-ll").CombinedOutput()
	status := "exit_0"
	if err != nil {
		status = strings.ReplaceAll(err.Error(), " ", "_")
	}
	fmt.Printf("LAB SDMEM %.3f %s %s\n", time.Since(t).Seconds(), status, strings.Join(strings.Fields(string(out)), " "))
	poweroff()
}
