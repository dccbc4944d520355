package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// daemonPID is ramwiped's PID once startDaemon has started it.
var daemonPID int

// startDaemon starts ramwiped as a real host would (armed; the kernel named
// in /lab/ramwipe.conf, the wipe image from /lab) and waits until it says
// what state it armed in. Its log goes to the console, prefixed.
func startDaemon() error {
	cmd := exec.Command("/sbin/ramwiped", "--armed", "--config", "/lab/ramwipe.conf", "--initramfs", "/lab/wipe.cpio")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := startNiced(cmd, daemonNice); err != nil {
		return fmt.Errorf("start ramwiped: %w", err)
	}
	daemonPID = cmd.Process.Pid
	// As the package's unit does (OOMScoreAdjust=-1000): never the OOM
	// killer's choice. Without it the first fault-rearm-loop saw the
	// kernel kill ramwiped inside the re-arm's kexec_file_load.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", daemonPID), []byte("-1000"), 0); err != nil {
		return fmt.Errorf("ramwiped's oom_score_adj: %w", err)
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
				rearmed.Add(1)
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

// daemonNice is the package unit's Nice=: ramwiped's every thread at this
// nice level, so that a busy process of anyone else's does not delay a
// panic.
const daemonNice = -20

// startNiced starts cmd at nice level nice, as systemd's Nice= does: the
// fork is made from a thread whose nice level is set for the moment (a
// child inherits its forking thread's), and the thread is set back after.
func startNiced(cmd *exec.Cmd, nice int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	old, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return err
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil {
		return fmt.Errorf("setpriority %d: %w", nice, err)
	}
	err = cmd.Start()
	// getpriority(2) returns 20 - nice.
	if perr := unix.Setpriority(unix.PRIO_PROCESS, tid, 20-old); perr != nil && err == nil {
		err = perr
	}
	return err
}

// idle measures how often ramwiped's threads were scheduled over d while
// nothing happens: the sum of voluntary and involuntary context switches of
// every thread in /proc/PID/task, before and after. A daemon blocked in
// reads and epoll, as ramwiped must be, has (almost) none. The control is a
// thread of the agent that wakes every 100 ms: the same count must see it.
func idle(pid int, d time.Duration) string {
	if pid == 0 {
		return "LAB IDLE error=no-daemon"
	}
	tid := make(chan int)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		tid <- unix.Gettid()
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	control := fmt.Sprintf("/proc/self/task/%d/status", <-tid)
	before, threads := switches(pid)
	controlBefore := ctxtSwitches(control)
	cpuBefore := cpuTicks(pid)
	time.Sleep(d)
	after, _ := switches(pid)
	controlAfter := ctxtSwitches(control)
	cpuAfter := cpuTicks(pid)
	close(done)
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	return fmt.Sprintf("LAB IDLE pid=%d seconds=%g threads=%d switches=%d control=%d cpu_ticks=%d rss_kb=%d locked_kb=%d %s",
		pid, d.Seconds(), threads, after-before, controlAfter-controlBefore, cpuAfter-cpuBefore, statusKB(status, "VmRSS"), statusKB(status, "VmLck"),
		lockedMemory(pid))
}

// lockedMemory prints a "LAB SMAPS" line for every mapping of pid with
// resident pages, and returns the LAB IDLE fields of its breakdown. VmLck
// counts the address space of every locked mapping, pages or not (the Go
// runtime reserves about a GiB it never touches); smaps' Locked counts
// the pages.
func lockedMemory(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return "smaps_error=" + strings.ReplaceAll(err.Error(), " ", "_")
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	maps := parseSmaps(b)
	sum, class := classify(maps, exe)
	for i, m := range maps {
		if m.rssKB > 0 || m.lockedKB > 0 {
			fmt.Printf("LAB SMAPS %x-%x %s size_kb=%d rss_kb=%d locked_kb=%d huge_kb=%d class=%s %s\n",
				m.start, m.end, m.perms, (m.end-m.start)>>10, m.rssKB, m.lockedKB, m.hugeKB, class[i], m.path)
		}
	}
	return sum.String()
}

// cpuTicks is a process's user + system CPU time in clock ticks (fields 14
// and 15 of /proc/PID/stat, counted after the command name's parenthesis).
func cpuTicks(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b)[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// statusKB reads a "Key:   N kB" line of /proc/PID/status.
func statusKB(status []byte, key string) int64 {
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return -1
}

func switches(pid int) (total uint64, threads int) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, t := range tasks {
		if n := ctxtSwitches(t); n >= 0 {
			total += uint64(n)
			threads++
		}
	}
	return total, threads
}

// ctxtSwitches is a task's voluntary + involuntary context switches, from
// its status file, or -1 if it has gone.
func ctxtSwitches(status string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return -1
	}
	var total int64
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			total += n
		}
	}
	return total
}
