package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// VMConfig describes a lab guest.
type VMConfig struct {
	QEMU   string // default qemu-system-x86_64
	Kernel string
	Initrd string
	Append string // kernel command line
	MemMiB int
	SMP    int
	// Dir holds the QMP socket; the RAM file goes to /dev/shm.
	Dir string
	// Extra are more QEMU arguments (devices).
	Extra []string
	// Reboot lets the guest reboot (QEMU restarts it); by default a
	// reboot ends QEMU like a power-off (-no-reboot).
	Reboot bool
	// Console, if set, receives everything the guest prints.
	Console io.Writer
}

// Line is a line the guest printed on its serial console.
type Line struct {
	At   time.Time
	Text string
}

// VM is a running lab guest.
type VM struct {
	QMP     *QMP
	RAMPath string
	Started time.Time
	cfg     VMConfig
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan Line
	mu      sync.Mutex
	all     []Line
	exited  chan struct{}
	exitErr error
	ExitAt  time.Time
}

// StartVM starts QEMU under TCG with the guest's RAM in a shared file.
func StartVM(ctx context.Context, cfg VMConfig) (*VM, error) {
	if cfg.QEMU == "" {
		cfg.QEMU = "qemu-system-x86_64"
	}
	ram, err := os.CreateTemp("/dev/shm", "ramwipe-lab-*.ram")
	if err != nil {
		return nil, fmt.Errorf("lab: RAM file in /dev/shm: %w", err)
	}
	ram.Close()
	qmpPath := filepath.Join(cfg.Dir, "qmp-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".sock")
	args := []string{
		"-accel", "tcg", "-nodefaults", "-no-user-config", "-display", "none",
		"-machine", "q35,memory-backend=ram",
		"-object", fmt.Sprintf("memory-backend-file,id=ram,size=%dM,mem-path=%s,share=on", cfg.MemMiB, ram.Name()),
		"-m", fmt.Sprintf("%dM", cfg.MemMiB),
		"-smp", strconv.Itoa(max(cfg.SMP, 1)),
		"-kernel", cfg.Kernel, "-initrd", cfg.Initrd, "-append", cfg.Append,
		"-serial", "stdio", "-monitor", "none",
		"-qmp", "unix:" + qmpPath + ",server=on,wait=off",
	}
	if !cfg.Reboot {
		args = append(args, "-no-reboot")
	}
	args = append(args, cfg.Extra...)
	cmd := exec.Command(cfg.QEMU, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// Not cmd.StdoutPipe: its reader is closed by cmd.Wait as soon as QEMU
	// exits, and whatever the console goroutine had not read yet — a
	// loaded host's last lines, the wipe's summary among them — was lost.
	// This pipe's reader sees every byte, then EOF.
	stdout, consoleW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = consoleW
	var stderr strings.Builder
	cmd.Stderr = &stderr
	vm := &VM{RAMPath: ram.Name(), cfg: cfg, cmd: cmd, stdin: stdin, lines: make(chan Line, 4096), exited: make(chan struct{})}
	vm.Started = time.Now()
	err = cmd.Start()
	consoleW.Close() // QEMU holds its own copy
	if err != nil {
		stdout.Close()
		os.Remove(ram.Name())
		return nil, fmt.Errorf("lab: start %s: %w", cfg.QEMU, err)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		defer stdout.Close()
		vm.readConsole(stdout)
	}()
	go func() {
		err := cmd.Wait()
		vm.ExitAt = time.Now()
		// Exited means every console line is in: wait for the reader
		// to reach EOF (bounded, should a child of QEMU hold the pipe).
		select {
		case <-drained:
		case <-time.After(consoleDrain):
		}
		if err != nil && stderr.Len() > 0 {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
		}
		vm.exitErr = err
		os.Remove(qmpPath)
		close(vm.exited)
	}()
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q, err := DialQMP(qctx, qmpPath)
	if err != nil {
		vm.Kill()
		return nil, err
	}
	vm.QMP = q
	return vm, nil
}

// readConsole splits what the guest prints into lines, without the
// terminal's escape sequences: systemd 257 (Debian 13) resets the serial
// terminal (ESC [ ! p, ESC ] 104 BEL, a cursor position query) before a
// service that owns it starts, right in front of "LAB SHELL up". The
// console copy keeps every byte.
func (vm *VM) readConsole(r io.Reader) {
	buf := make([]byte, 4096)
	var cur []byte
	var esc escapeStripper
	emit := func() {
		if len(cur) == 0 {
			return
		}
		l := Line{At: time.Now(), Text: string(cur)}
		cur = cur[:0]
		vm.mu.Lock()
		vm.all = append(vm.all, l)
		vm.mu.Unlock()
		select {
		case vm.lines <- l:
		default:
		}
	}
	for {
		n, err := r.Read(buf)
		if n > 0 && vm.cfg.Console != nil {
			vm.cfg.Console.Write(buf[:n]) // a write per read, not per byte
		}
		for _, b := range buf[:n] {
			if !esc.keep(b) {
				continue
			}
			if b == '\n' || b == '\r' {
				emit()
				continue
			}
			cur = append(cur, b)
		}
		if err != nil {
			emit()
			close(vm.lines)
			return
		}
	}
}

// escapeStripper drops a terminal's escape sequences from a byte stream:
// CSI (ESC [ … final byte), OSC, DCS and the other string sequences (ESC ]
// … BEL or ESC \), and two- or three-byte ESC sequences (ESC 7, ESC ( B).
type escapeStripper struct {
	state int
}

const (
	escText   = iota
	escEsc    // after ESC
	escCSI    // after ESC [
	escString // inside OSC, DCS, SOS, PM, APC
	escStrEsc // ESC inside a string: ESC \ ends it
	escInter  // after ESC and an intermediate byte (ESC ( B)
)

// keep reports whether b is text, and not part of an escape sequence.
func (e *escapeStripper) keep(b byte) bool {
	switch e.state {
	case escText:
		if b == 0x1b {
			e.state = escEsc
			return false
		}
		return true
	case escEsc:
		switch {
		case b == 0x1b: // starts over
		case b == '[':
			e.state = escCSI
		case b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_':
			e.state = escString
		case b >= 0x20 && b <= 0x2f:
			e.state = escInter
		default:
			e.state = escText
		}
		return false
	case escCSI:
		if b >= 0x40 && b <= 0x7e {
			e.state = escText
		}
		return b == '\n' && e.reset()
	case escString:
		switch b {
		case 0x07:
			e.state = escText
		case 0x1b:
			e.state = escStrEsc
		case '\n':
			// An unterminated string ends at the line's end: a lost
			// terminator must not swallow the console.
			return e.reset()
		}
		return false
	case escStrEsc:
		e.state = escText
		if b != '\\' { // ESC and not ST: a new sequence
			e.state = escEsc
			return e.keep(b)
		}
		return false
	case escInter:
		if b < 0x20 || b > 0x2f {
			e.state = escText
		}
		return false
	}
	return true
}

func (e *escapeStripper) reset() bool {
	e.state = escText
	return true
}

// Console is where the guest's console is copied (io.Discard if nowhere),
// for the lab's own notes beside it.
func (vm *VM) Console() io.Writer {
	if vm.cfg.Console == nil {
		return io.Discard
	}
	return vm.cfg.Console
}

// consoleDrain bounds the wait, once QEMU has exited, for the console
// reader to take in what QEMU wrote before it exited.
const consoleDrain = 10 * time.Second

// ErrExited is returned by [VM.WaitLine] when the guest stopped first.
var ErrExited = errors.New("guest exited")

// WaitLine waits for a console line starting with prefix and returns it.
// Lines before it are skipped (they stay in [VM.Lines]).
func (vm *VM) WaitLine(ctx context.Context, prefix string) (Line, error) {
	for {
		select {
		case l, ok := <-vm.lines:
			if !ok {
				return Line{}, fmt.Errorf("waiting for %q: %w", prefix, ErrExited)
			}
			if strings.HasPrefix(l.Text, prefix) {
				return l, nil
			}
		case <-ctx.Done():
			return Line{}, fmt.Errorf("waiting for %q: %w", prefix, ctx.Err())
		}
	}
}

// Lines returns every console line so far.
func (vm *VM) Lines() []Line {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return append([]Line(nil), vm.all...)
}

// Send writes a line to the guest's console.
func (vm *VM) Send(line string) error {
	_, err := io.WriteString(vm.stdin, line+"\n")
	return err
}

// Wait waits for QEMU to exit, killing it when ctx ends first.
func (vm *VM) Wait(ctx context.Context) error {
	select {
	case <-vm.exited:
		return vm.exitErr
	case <-ctx.Done():
		vm.Kill()
		<-vm.exited
		return fmt.Errorf("guest still running: %w", ctx.Err())
	}
}

// Exited is closed when QEMU has exited.
func (vm *VM) Exited() <-chan struct{} { return vm.exited }

// Kill ends QEMU.
func (vm *VM) Kill() {
	if vm.cmd.Process != nil {
		_ = vm.cmd.Process.Kill()
	}
}

// MapRAM maps the guest's RAM file read-only. The guest must be stopped or
// gone for the view to be a consistent dump.
func (vm *VM) MapRAM() ([]byte, func(), error) {
	f, err := os.Open(vm.RAMPath)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap %s: %w", vm.RAMPath, err)
	}
	return b, func() { _ = unix.Munmap(b) }, nil
}

// Close kills QEMU if it still runs and removes the RAM file, or moves it
// to keepRAM if that is not "".
func (vm *VM) Close(keepRAM string) {
	vm.Kill()
	<-vm.exited
	if vm.QMP != nil {
		vm.QMP.Close()
	}
	if keepRAM != "" {
		if err := copyFile(keepRAM, vm.RAMPath); err != nil {
			fmt.Fprintf(os.Stderr, "lab: keep RAM: %v\n", err)
		}
	}
	os.Remove(vm.RAMPath)
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// DumpScan scans the guest's RAM with scan and, if key is set, searches it
// for that volume key (see [ScanKey]). A running guest is stopped for the
// dump and goes on afterwards; a guest that has exited is dumped as it
// left its RAM.
func (vm *VM) DumpScan(ctx context.Context, scan func([]byte) Scan, key []byte) (Scan, *KeyScan, error) {
	running := true
	select {
	case <-vm.exited:
		running = false
	default:
	}
	if running {
		if _, err := vm.QMP.Execute(ctx, "stop", nil); err != nil {
			return Scan{}, nil, err
		}
	}
	ram, unmap, err := vm.MapRAM()
	if err != nil {
		return Scan{}, nil, err
	}
	res := scan(ram)
	var ks *KeyScan
	if key != nil {
		k, kerr := ScanKey(ctx, ram, vm.RAMPath, key)
		ks, err = &k, kerr
	}
	unmap()
	if running {
		if _, cerr := vm.QMP.Execute(ctx, "cont", nil); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	return res, ks, err
}
