// Command ramwipe talks to ramwiped:
//
//	ramwipe status          show whether this machine is armed (exit 0 only if armed)
//	ramwipe panic           erase the disk keys and wipe memory NOW
//	ramwipe test TRIGGER    rehearse: the daemon says it would wipe, and wipes nothing
//	ramwipe check [--json]  audit this machine's readiness against cold-boot attacks
//	ramwipe usb learn       print usb_allow lines for the USB devices attached now
//
// A rehearsal of the hotkey or the boot medium lasts while the command
// waits (up to [control.RehearsalWindow]); Ctrl-C, or the command being
// killed, ends it at once and the trigger wipes again.
//
// Root and members of the group named in ramwipe.conf may use it. check
// needs neither the daemon nor root: it reads /proc, /sys and /etc (package
// readiness) and exits 0 when its worst finding is ok or info, 1 for a
// warning, 2 for a failure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ramwipe/ramwipe/readiness"
	"github.com/ramwipe/ramwipe/trigger/control"
)

func main() {
	// Ctrl-C closes the connection, which ends a rehearsal in the daemon.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: ramwipe [-socket PATH] COMMAND

commands:
  status [--json]  is this machine protected? (exit 0 armed, 1 not armed, 2 no answer)
  panic            erase the disk keys and wipe memory NOW
  test TRIGGER     rehearse a trigger (cli, hotkey, bootmedium, usb, suspend), wipe nothing
  check [--json]   audit this machine's readiness against cold-boot attacks
  usb learn        print usb_allow lines for the USB devices attached now
                   (--write: add them to /etc/ramwipe/ramwipe.conf, after a backup;
                   --ports: pin each to its port)
  version          print ramwipe's version

options:`

// version is the package version, set by the build (-ldflags -X).
var version = "devel"

// Exit codes.
const (
	exitOK        = 0
	exitNotArmed  = 1 // status: dry run or degraded; panic: a dry run wiped nothing; check: a warning
	exitFailed    = 2 // the daemon said no, or is not there; check: a failure
	exitUsageCode = 64
)

// requestTimeout bounds a status or panic request; a rehearsal waits
// [control.RehearsalWindow] and rehearsalSlack more.
const (
	requestTimeout = 10 * time.Second
	rehearsalSlack = 5 * time.Second
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ramwipe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "/run/ramwipe/control.sock", "ramwiped's control socket")
	showVersion := fs.Bool("version", false, "print ramwipe's version and exit")
	// The flag package prints its own error; the usage is printed here,
	// to stdout when asked for and to stderr after an error.
	fs.Usage = func() {}
	printUsage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprintln(w, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return exitOK
		}
		fmt.Fprintln(stderr)
		printUsage(stderr)
		return exitUsageCode
	}
	if *showVersion {
		fmt.Fprintln(stdout, "ramwipe", version)
		return exitOK
	}
	var req control.Request
	jsonOut := false
	switch a := fs.Args(); {
	case len(a) == 0:
		fmt.Fprintf(stderr, "ramwipe: no command given\n\n")
		printUsage(stderr)
		return exitUsageCode
	case a[0] == "version" && len(a) == 1:
		fmt.Fprintln(stdout, "ramwipe", version)
		return exitOK
	case a[0] == "help" && len(a) == 1:
		printUsage(stdout)
		return exitOK
	case a[0] == sleepHookCommand:
		return sleepHook(ctx, *socket, a[1:], stdout, stderr)
	case a[0] == "check" && len(a) == 1:
		return check(readiness.Audit(readiness.Options{}), false, stdout, stderr)
	case a[0] == "check" && len(a) == 2 && (a[1] == "--json" || a[1] == "-json"):
		return check(readiness.Audit(readiness.Options{}), true, stdout, stderr)
	case a[0] == "usb":
		return usbCommand(defaultUSBEnv, a[1:], stdout, stderr)
	case a[0] == control.CommandStatus && len(a) == 1,
		a[0] == control.CommandPanic && len(a) == 1:
		req = control.Request{Command: a[0]}
	case a[0] == control.CommandStatus && len(a) == 2 && (a[1] == "--json" || a[1] == "-json"):
		req, jsonOut = control.Request{Command: a[0]}, true
	case a[0] == control.CommandTest && len(a) == 2:
		req = control.Request{Command: control.CommandTest, Arg: a[1]}
		if err := req.Validate(); err != nil {
			fmt.Fprintf(stderr, "ramwipe: %v\n", err)
			return exitUsageCode
		}
	case a[0] == control.CommandStatus, a[0] == control.CommandPanic, a[0] == control.CommandTest, a[0] == "check":
		fmt.Fprintf(stderr, "ramwipe: %s: wrong arguments %q\n\n", a[0], a[1:])
		printUsage(stderr)
		return exitUsageCode
	default:
		fmt.Fprintf(stderr, "ramwipe: unknown command %q\n\n", a[0])
		printUsage(stderr)
		return exitUsageCode
	}
	timeout := requestTimeout
	if req.Command == control.CommandTest && req.Arg != "cli" {
		timeout = control.RehearsalWindow + rehearsalSlack
		fmt.Fprintf(stdout, "rehearsing the %s trigger: fire it within %v (Ctrl-C to stop); nothing will be wiped\n", req.Arg, control.RehearsalWindow)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The priority socket first: root and the group only, so that no
	// flood of other users' connections is queued ahead of this one.
	paths := []string{control.PriorityPath(*socket), *socket}
	do := func(ctx context.Context, r control.Request) (control.Reply, error) {
		return control.DoFirst(ctx, paths, r)
	}
	var reply control.Reply
	var err error
	if req.Command == control.CommandPanic {
		// Stamped with its send time; sent again while every slot is
		// taken (a stuck client): a panic must still get in.
		reply, err = control.Panic(ctx, do)
	} else {
		reply, err = control.WhileBusy(ctx, do, req)
	}
	if err != nil {
		if req.Command == "panic" && errors.Is(err, io.EOF) {
			// The machine went down before the daemon could answer.
			return exitOK
		}
		if req.Command == control.CommandTest && errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "ramwipe: rehearsal stopped; nothing was wiped, and the %s trigger wipes again\n", req.Arg)
			return exitFailed
		}
		fmt.Fprintf(stderr, "ramwipe: %v\n", err)
		return exitFailed
	}
	if !reply.OK {
		fmt.Fprintf(stderr, "ramwipe: %s\n", reply.Text)
		return exitFailed
	}
	if jsonOut {
		fmt.Fprintln(stdout, reply.Text)
		return statusCode(reply.Text)
	}
	if req.Command != "status" {
		fmt.Fprintln(stdout, reply.Text)
		if reply.DryRun() {
			return exitNotArmed
		}
		return exitOK
	}
	return printStatus(stdout, stderr, reply.Text)
}

// check prints an audit report and returns its exit code: 0 when the
// worst finding is ok or info, 1 for a warning, 2 for a failure.
func check(r *readiness.Report, jsonOut bool, stdout, stderr io.Writer) int {
	var err error
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(struct {
			Worst readiness.Severity `json:"worst"`
			*readiness.Report
		}{r.Worst(), r})
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ramwipe: check: %v\n", err)
		return exitFailed
	}
	switch r.Worst() {
	case readiness.Fail:
		return exitFailed
	case readiness.Warn:
		return exitNotArmed
	}
	return exitOK
}

// statusCode is status's exit code for a status reply's JSON.
func statusCode(text string) int {
	var s control.Status
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return exitFailed
	}
	if s.State != control.StateArmed {
		return exitNotArmed
	}
	return exitOK
}

func printStatus(stdout, stderr io.Writer, text string) int {
	var s control.Status
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		fmt.Fprintf(stderr, "ramwipe: status from ramwiped does not parse: %v\n", err)
		return exitFailed
	}
	state := strings.ToUpper(s.State.String())
	fmt.Fprintf(stdout, "state:          %s\n", state)
	if s.Why != "" {
		fmt.Fprintf(stdout, "why:            %s\n", s.Why)
	}
	fmt.Fprintf(stdout, "kernel:         %s\n", s.Kernel)
	fmt.Fprintf(stdout, "wipe image:     %s\n", s.Initramfs)
	fmt.Fprintf(stdout, "command line:   %s\n", s.Cmdline)
	devs := strings.Join(s.CryptDevices, ", ")
	if devs == "" {
		devs = "none"
	}
	fmt.Fprintf(stdout, "crypt devices:  %s\n", devs)
	if len(s.Watching) == 0 {
		fmt.Fprintf(stdout, "triggers:       %s\n", strings.Join(s.Triggers, ", "))
	} else {
		fmt.Fprintf(stdout, "triggers:\n")
		for _, w := range s.Watching {
			on := "off"
			if w.On {
				on = "on "
			}
			fmt.Fprintf(stdout, "  %-11s %s  %s\n", w.Trigger, on, w.What)
		}
	}
	fmt.Fprintf(stdout, "kexec locked:   %v\n", s.KexecLocked)
	if s.ShutdownWipe != "" {
		fmt.Fprintf(stdout, "shutdown wipe:  %s\n", s.ShutdownWipe)
	}
	printSuspend(stdout, s.Suspend)
	fmt.Fprintf(stdout, "since:          %s\n", s.ArmedAt.Format(time.RFC3339))
	if s.LastError != "" {
		fmt.Fprintf(stdout, "last error:     %s\n", s.LastError)
	}
	if s.Refused > 0 {
		fmt.Fprintf(stdout, "refused:        %d connections to the control socket (see the journal)\n", s.Refused)
	}
	if s.State != control.StateArmed {
		return exitNotArmed
	}
	return exitOK
}
