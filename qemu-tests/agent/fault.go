package main

// The fault matrix's guest side (the lab's fault-* scenarios, see
// qemu-tests/lab/fault.go): commands that put ramwiped under a fault before
// the trigger, and the child processes that make the fault.
//
// Console commands:
//
//	panic-mark          "ramwipe-lab: panic sent" to /dev/kmsg (the guest
//	                    clock), then `ramwipe panic` as root
//	panic-direct        the same request sent by the agent itself, with
//	                    marks after the connect and the write
//	cli-probe           `ramwipe -h` between two marks: the CLI's start-up now
//	rehearse-bg         `ramwipe test hotkey` in the background
//	rehearse-kill       SIGKILL that client ("LAB REHEARSAL-KILLED")
//	rehearse-expire N   a client that asks for a hotkey rehearsal and
//	                    gives up by itself after N s ("LAB REHEARSAL-EXPIRED")
//	rearm-loop N        replace ramwiped's kernel N times, each time waiting
//	                    for the re-arm; the Nth time it sends the panic
//	                    (panic-mark) while that re-arm loads the image
//	flood N             N connections to the control socket held by uid
//	                    1001 (not in the ramwipe group) and one more of its
//	                    clients sending garbage in a loop ("LAB FLOOD …")
//	rm-armed            delete the kernel and wipe image ramwiped armed with
//	hog-mem             a process holding all memory but a few MiB ("LAB HOG …")
//	hog-cpu             a busy loop per CPU ("LAB SPIN …")
//	hang-crypt          a second dm-crypt device whose I/O hangs ("LAB HUNG …")

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ramwipe/ramwipe/trigger/control"
)

// controlSocket is ramwiped's control socket (the default of ramwipe.conf).
const controlSocket = "/run/ramwipe/control.sock"

// floodUID is the unprivileged user of the flood: not root, not in the
// ramwipe group (gid 990), so every connection it makes is refused.
const floodUID = 1001

// spinSink keeps the busy loops' arithmetic from being optimised away.
var spinSink atomic.Uint64

// rearmed counts ramwiped's "state …" log lines (one per arming); the
// daemon's log reader (startDaemon) adds to it.
var rearmed atomic.Int64

// kmsg writes a line to the kernel log, stamped with the guest's clock
// like ramwiped's panic-step marks; the lab reads both from the console.
func kmsg(what string) {
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		fmt.Printf("LAB KMSG error %v\n", err)
		return
	}
	_, _ = f.Write([]byte("<4>ramwipe-lab: " + what))
	f.Close()
}

// panicMark marks the moment on the guest clock and runs `ramwipe panic`.
func panicMark() {
	kmsg("panic sent")
	out, err := exec.Command("/sbin/ramwipe", "panic").CombinedOutput()
	fmt.Printf("LAB PANIC RETURNED %v: %s\n", err, bytes.TrimSpace(out))
}

// panicDirect sends the panic request itself, as root, without starting
// the CLI, with a mark before the connect, after it and after the request
// is written: where a slow panic waits.
func panicDirect() {
	kmsg("panic sent")
	c, err := net.Dial("unix", control.PriorityPath(controlSocket))
	kmsg(fmt.Sprintf("panic connected (%v)", err))
	if err != nil {
		return
	}
	_, err = c.Write(control.Request{Command: control.CommandPanic, Sent: control.MonotonicNow()}.Marshal())
	kmsg(fmt.Sprintf("panic request written (%v)", err))
	b, _ := io.ReadAll(c)
	fmt.Printf("LAB PANIC RETURNED %q\n", b)
}

var (
	rehearsalMu sync.Mutex
	rehearsal   *exec.Cmd
)

// faultCommand runs one of the fault commands; false if cmd is none.
func faultCommand(cmd, arg string) bool {
	n, _ := strconv.Atoi(arg)
	switch cmd {
	case "panic-mark":
		panicMark()
	case "panic-direct":
		panicDirect()
	case "cli-probe":
		// The CLI's start-up as it is now: `ramwipe -h` runs the same
		// binary up to its flag parsing, and connects to nothing.
		kmsg("cli probe start")
		_ = exec.Command("/sbin/ramwipe", "-h").Run()
		kmsg("cli probe done")
	case "rehearse-bg":
		c := exec.Command("/sbin/ramwipe", "test", "hotkey")
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Start(); err != nil {
			fmt.Printf("LAB REHEARSAL start: %v\n", err)
			return true
		}
		rehearsalMu.Lock()
		rehearsal = c
		rehearsalMu.Unlock()
		go func() {
			err := c.Wait()
			fmt.Printf("LAB REHEARSAL %v: %s\n", err, strings.ReplaceAll(strings.TrimSpace(out.String()), "\n", " / "))
		}()
	case "rehearse-kill":
		rehearsalMu.Lock()
		c := rehearsal
		rehearsalMu.Unlock()
		if c == nil {
			fmt.Println("LAB REHEARSAL-KILLED error=no-client")
			return true
		}
		err := c.Process.Signal(syscall.SIGKILL)
		kmsg("rehearsal client killed")
		fmt.Printf("LAB REHEARSAL-KILLED %v\n", err)
	case "rehearse-expire":
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(max(n, 1))*time.Second)
			defer cancel()
			rep, err := control.Do(ctx, controlSocket, control.Request{Command: control.CommandTest, Arg: "hotkey"})
			kmsg("rehearsal client gave up")
			fmt.Printf("LAB REHEARSAL-EXPIRED err=%v reply=%q\n", err, rep.Text)
		}()
	case "rearm-loop":
		go rearmLoop(max(n, 2))
	case "flood":
		flood(max(n, 1))
	case "rm-armed":
		var errs []string
		for _, f := range []string{"/lab/vmlinuz", "/lab/wipe.cpio"} {
			if err := os.Remove(f); err != nil {
				errs = append(errs, err.Error())
			}
		}
		fmt.Printf("LAB RM-ARMED %q\n", errs)
	case "hog-mem":
		startChild("hog", 0, 0)
	case "hog-cpu":
		startChild("spin", 0, 0)
	case "hang-crypt":
		hangCrypt()
	default:
		return false
	}
	return true
}

// rearmLoop replaces /lab/vmlinuz as a kernel upgrade does (a new file
// renamed over it) n times. ramwiped re-arms 2 s (its settle time) after
// each change; the loop waits for each re-arm and times it. The last time
// it sends the panic half way through the expected load, that is while
// ramwiped's kexec_file_load runs.
func rearmLoop(n int) {
	const settle = 2 * time.Second // cmd/ramwiped's watchFiles settle
	img, err := os.ReadFile("/lab/vmlinuz")
	if err != nil {
		fmt.Printf("LAB REARM error %v\n", err)
		return
	}
	var load time.Duration
	for i := 1; i <= n; i++ {
		before := rearmed.Load()
		if err := os.WriteFile("/lab/vmlinuz.new", img, 0o644); err != nil {
			fmt.Printf("LAB REARM error %v\n", err)
			return
		}
		if err := os.Rename("/lab/vmlinuz.new", "/lab/vmlinuz"); err != nil {
			fmt.Printf("LAB REARM error %v\n", err)
			return
		}
		t := time.Now()
		if i == n {
			time.Sleep(settle + load/2)
			fmt.Printf("LAB REARM %d: panic %v after the change, the last re-arm took %v\n", i, time.Since(t).Round(time.Millisecond), load.Round(time.Millisecond))
			panicMark()
			return
		}
		for rearmed.Load() == before && time.Since(t) < time.Minute {
			time.Sleep(5 * time.Millisecond)
		}
		load = max(time.Since(t)-settle, 0)
		fmt.Printf("LAB REARM %d: re-armed %v after the settle time\n", i, load.Round(time.Millisecond))
	}
}

// flood starts the flood's two processes as floodUID; the holder says
// when it has its n connections.
func flood(n int) {
	if _, err := startChild("hold", n, floodUID); err != nil {
		return
	}
	_, _ = startChild("garbage", 0, floodUID)
}

// startChild starts the agent again as one of the fault's children (see
// faultChild), as uid (0: root); its output goes to the console.
func startChild(kind string, n int, uid uint32) (*exec.Cmd, error) {
	c := exec.Command("/proc/self/exe")
	c.Env = []string{fmt.Sprintf("LAB_FAULT=%s:%d", kind, n)}
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	if uid != 0 {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	}
	if err := c.Start(); err != nil {
		fmt.Printf("LAB FAULT %s: %v\n", kind, err)
		return nil, err
	}
	return c, nil
}

// faultChild is the agent run as a fault's child process (LAB_FAULT=KIND:N):
//
//	hold:N   keep N connections to the control socket open; each one the
//	         server closes is opened again a second later
//	garbage  connect, send a line of garbage, hang up, again, as fast as it can
//	hog      hold all memory but a few MiB (touched, so resident)
//	spin     a busy loop per CPU
//
// It never returns.
func faultChild(spec string) {
	kind, arg, _ := strings.Cut(spec, ":")
	n, _ := strconv.Atoi(arg)
	switch kind {
	case "hold":
		var open, dials atomic.Int64
		for range n {
			go func() {
				for {
					c, err := net.Dial("unix", controlSocket)
					if err != nil {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					open.Add(1)
					dials.Add(1)
					_, _ = io.Copy(io.Discard, c) // until the server hangs up
					c.Close()
					open.Add(-1)
					time.Sleep(time.Second)
				}
			}()
		}
		t := time.Now()
		for dials.Load() < int64(n) && time.Since(t) < time.Minute {
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Printf("LAB FLOOD holding uid=%d connections=%d open=%d after %v\n", os.Getuid(), dials.Load(), open.Load(), time.Since(t).Round(time.Millisecond))
	case "garbage":
		junk := bytes.Repeat([]byte("\x00\xffGARBAGE \x1b[31m not a request "), 6)
		junk = append(junk, '\n')
		var sent atomic.Int64
		go func() {
			time.Sleep(2 * time.Second)
			fmt.Printf("LAB FLOOD garbage uid=%d clients=%d in 2s\n", os.Getuid(), sent.Load())
		}()
		for {
			c, err := net.Dial("unix", controlSocket)
			if err != nil {
				continue
			}
			_, _ = c.Write(junk)
			c.Close()
			sent.Add(1)
		}
	case "hog":
		hog()
	case "spin":
		cpus := runtime.NumCPU()
		for range cpus {
			go func() {
				runtime.LockOSThread()
				x := uint64(1)
				for {
					x = x*6364136223846793005 + 1
					if x == 0 {
						spinSink.Store(x)
					}
				}
			}()
		}
		fmt.Printf("LAB SPIN %d busy loops\n", cpus)
	}
	for {
		time.Sleep(time.Hour)
	}
}

// hog takes memory 1 MiB at a time, touching every page, until the kernel
// says only hogReserve is still available, and keeps it.
func hog() {
	const hogReserve = 8 << 20
	var held uint64
	for {
		avail := memAvailable()
		if avail <= hogReserve {
			break
		}
		chunk := min(uint64(4<<20), avail-hogReserve)
		b, err := unix.Mmap(-1, 0, int(chunk), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			break
		}
		for i := 0; i < len(b); i += 4096 {
			b[i] = 0x5a
		}
		held += chunk
	}
	fmt.Printf("LAB HOG held_mib=%d available_mib=%d\n", held>>20, memAvailable()>>20)
}

// memAvailable is MemAvailable of /proc/meminfo, in bytes.
func memAvailable() uint64 { return meminfo("MemAvailable") }

// hangCrypt makes a dm-crypt device whose I/O hangs, next to the healthy
// LUKS volume: a plain dm-crypt device "labhung" over a second LUKS volume
// "lablower", which is then suspended (cryptsetup luksSuspend), and a
// direct write to labhung that stays in flight. A suspend of labhung —
// the first step of its key erase — then waits for that write, which
// never completes.
func hangCrypt() {
	run := func(args ...string) error {
		cmd := exec.Command("/sbin/cryptsetup", args...)
		cmd.Env = []string{"DM_DISABLE_UDEV=1", "PATH=/sbin:/bin"}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("cryptsetup %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return nil
	}
	for _, args := range [][]string{
		{"open", "--type", "luks2", "--key-file", "/lab/crypt/pass", "/lab/crypt/lower.img", "lablower"},
		{"open", "--type", "plain", "--cipher", "aes-xts-plain64", "--key-size", "512", "--key-file", "/lab/crypt/upper.key", "/dev/mapper/lablower", "labhung"},
		{"luksSuspend", "lablower"},
	} {
		if err := run(args...); err != nil {
			fmt.Printf("LAB HUNG error %v\n", err)
			return
		}
	}
	started := make(chan struct{})
	go func() {
		f, err := os.OpenFile("/dev/mapper/labhung", os.O_WRONLY|unix.O_DIRECT, 0)
		if err != nil {
			fmt.Printf("LAB HUNG error %v\n", err)
			close(started)
			return
		}
		buf, _ := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS) // page-aligned for O_DIRECT
		close(started)
		_, err = f.Write(buf) // blocks while lablower is suspended
		fmt.Printf("LAB HUNG write returned %v\n", err)
	}()
	<-started
	// Until the write is in flight on labhung.
	t := time.Now()
	inflight := ""
	for time.Since(t) < 20*time.Second {
		inflight = dmInflight("labhung")
		if f := strings.Fields(inflight); len(f) == 2 && f[1] != "0" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("LAB HUNG labhung over suspended lablower, in flight (reads writes): %s\n", inflight)
}

// dmInflight is /sys/block/dm-N/inflight of the dm device named name.
func dmInflight(name string) string {
	for i := range 16 {
		b, err := os.ReadFile(fmt.Sprintf("/sys/block/dm-%d/dm/name", i))
		if err == nil && strings.TrimSpace(string(b)) == name {
			in, _ := os.ReadFile(fmt.Sprintf("/sys/block/dm-%d/inflight", i))
			return strings.Join(strings.Fields(string(in)), " ")
		}
	}
	return "?"
}
