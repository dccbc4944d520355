package main

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// startDaemon starts ramwiped as a real host would (armed; the kernel named
// in /lab/ramwipe.conf, the wipe image from /lab) and waits until it says
// what state it armed in. Its log goes to the console, prefixed.
func startDaemon() error {
	cmd := exec.Command("/sbin/ramwiped", "--armed", "--config", "/lab/ramwipe.conf", "--initramfs", "/lab/wipe.cpio")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ramwiped: %w", err)
	}
	// The state line comes first; "ready" once the control socket listens.
	state := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		armed := ""
		for sc.Scan() {
			line := sc.Text()
			fmt.Printf("ramwiped| %s\n", line)
			if i := strings.Index(line, "msg=\"state "); i >= 0 {
				armed = strings.Fields(line[i+len("msg=\"state "):])[0]
			}
			if strings.Contains(line, "msg=ready") {
				select {
				case state <- armed:
				default:
				}
			}
		}
	}()
	select {
	case s := <-state:
		fmt.Printf("LAB DAEMON %s\n", strings.TrimSuffix(s, ":"))
		return nil
	case <-time.After(60 * time.Second):
		return fmt.Errorf("ramwiped did not arm within 60s")
	}
}
