package initramfs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Action is what the wipe image does once memory is overwritten.
type Action string

// The actions a loader may ask for with ramwipe.action=.
const (
	PowerOff Action = "poweroff"
	Reboot   Action = "reboot"
	Halt     Action = "halt"
)

// ActionParam is the command-line parameter that carries the [Action]. A
// loader adds it, once, after [DefaultCmdline].
const ActionParam = "ramwipe.action="

// Param is a as a command-line parameter, such as ramwipe.action=reboot.
func (a Action) Param() string { return ActionParam + string(a) }

// DefaultCmdline is the kernel command line (beyond console=) a loader passes
// with the wipe image, before its own ramwipe.action=.
//
//   - memtest=1: the wipe kernel writes zeros over every free memblock range
//     before its page allocator starts (mm/memtest.c; the first pattern is 0).
//   - init_on_free=1: every page freed later (the unpacked initrd, memory
//     returned by the fill workers) is zeroed on free.
//   - panic=5: a wipe kernel that panics restarts instead of hanging powered.
//   - loglevel=4: only warnings on the console, so the progress bar stays readable.
//
// The lab measures each of them alone (see qemu-tests).
const DefaultCmdline = "memtest=1 init_on_free=1 panic=5 loglevel=4"

// DefaultDeadline bounds the whole wipe: when it passes, the /init stops the
// fill and carries out the action anyway.
const DefaultDeadline = 10 * time.Minute

// Params are the ramwipe.* parameters of the wipe kernel's command line.
type Params struct {
	Action   Action
	Quiet    bool
	Deadline time.Duration
	// Workers is the number of fill workers; 0 means one per CPU.
	Workers int
	// Pattern is the byte written over memory. Zero relies on the kernel
	// zeroing every page it faults in and writes nothing more.
	Pattern byte
	// Skip asks the /init to carry out the action without wiping
	// (ramwipe.skip: the one-boot kill switch).
	Skip bool
	// HeldMap asks the /init to print which physical pages the wipe kernel
	// kept for itself when memory was full (ramwipe.heldmap), so that a
	// memory dump can tell the wipe kernel's own pages from residue.
	HeldMap bool
	// Lab holds ramwipe.lab=, read only by lab builds of the /init.
	Lab string
}

// DefaultParams are the parameters of a command line that sets none.
func DefaultParams() Params {
	return Params{Action: PowerOff, Deadline: DefaultDeadline}
}

// maxCmdline is the longest command line ParseCmdline accepts; x86's
// COMMAND_LINE_SIZE is 2048, other architectures allow more.
const maxCmdline = 64 << 10

// ParseCmdline reads the ramwipe.* parameters from a kernel command line such
// as the contents of /proc/cmdline. Parameters of other prefixes are ignored.
// An unknown ramwipe.* parameter or a bad value is an error; the /init logs it
// and goes on with the defaults for that parameter, so a typo can never stop
// a wipe.
func ParseCmdline(cmdline string) (Params, error) {
	p := DefaultParams()
	if len(cmdline) > maxCmdline {
		return p, fmt.Errorf("kernel command line: %d bytes, longer than %d", len(cmdline), maxCmdline)
	}
	var errs []error
	for _, field := range strings.Fields(cmdline) {
		key, val, hasVal := strings.Cut(field, "=")
		name, ok := strings.CutPrefix(key, "ramwipe.")
		if !ok {
			continue
		}
		if err := p.set(name, val, hasVal); err != nil {
			errs = append(errs, fmt.Errorf("kernel command line %q: %w", field, err))
		}
	}
	return p, errors.Join(errs...)
}

func (p *Params) set(name, val string, hasVal bool) error {
	switch name {
	case "action":
		switch a := Action(val); a {
		case PowerOff, Reboot, Halt:
			p.Action = a
		case "kexec":
			// systemd-shutdown's verb for "kexec into another kernel": the
			// other kernel is gone once the wipe image is loaded; reboot.
			p.Action = Reboot
		default:
			return fmt.Errorf("unknown action %q: use poweroff, reboot or halt", val)
		}
	case "quiet":
		b, err := parseBool(val, hasVal)
		if err != nil {
			return err
		}
		p.Quiet = b
	case "skip":
		b, err := parseBool(val, hasVal)
		if err != nil {
			return err
		}
		p.Skip = b
	case "heldmap":
		b, err := parseBool(val, hasVal)
		if err != nil {
			return err
		}
		p.HeldMap = b
	case "deadline":
		d, err := time.ParseDuration(val)
		if err != nil || d <= 0 {
			return fmt.Errorf("deadline %q: want a positive duration such as 90s or 10m", val)
		}
		p.Deadline = d
	case "workers":
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > 4096 {
			return fmt.Errorf("workers %q: want a number from 0 (one per CPU) to 4096", val)
		}
		p.Workers = n
	case "pattern":
		if val == "zero" {
			p.Pattern = 0
			return nil
		}
		b, err := strconv.ParseUint(val, 0, 8)
		if err != nil {
			return fmt.Errorf("pattern %q: want zero or a byte such as 0xff", val)
		}
		p.Pattern = byte(b)
	case "lab":
		p.Lab = val
	default:
		return fmt.Errorf("unknown parameter ramwipe.%s", name)
	}
	return nil
}

func parseBool(val string, hasVal bool) (bool, error) {
	if !hasVal {
		return true, nil
	}
	switch val {
	case "1", "y", "yes", "on", "true":
		return true, nil
	case "0", "n", "no", "off", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean: use 1 or 0", val)
}

// String renders the parameters as the command line ParseCmdline reads back.
// Parameters at their default are left out.
func (p Params) String() string {
	d := DefaultParams()
	var f []string
	if p.Action != d.Action && p.Action != "" {
		f = append(f, p.Action.Param())
	}
	if p.Quiet {
		f = append(f, "ramwipe.quiet")
	}
	if p.Skip {
		f = append(f, "ramwipe.skip")
	}
	if p.HeldMap {
		f = append(f, "ramwipe.heldmap")
	}
	if p.Deadline != d.Deadline && p.Deadline > 0 {
		f = append(f, "ramwipe.deadline="+p.Deadline.String())
	}
	if p.Workers != 0 {
		f = append(f, "ramwipe.workers="+strconv.Itoa(p.Workers))
	}
	if p.Pattern != 0 {
		f = append(f, fmt.Sprintf("ramwipe.pattern=%#02x", p.Pattern))
	}
	if p.Lab != "" {
		f = append(f, "ramwipe.lab="+p.Lab)
	}
	return strings.Join(f, " ")
}
