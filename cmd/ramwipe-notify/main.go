// Command ramwipe-notify is ramwipe's desktop agent:
//
//	ramwipe-notify          follow ramwiped's state; a notification on each change
//	ramwipe-notify --panic  wipe now, as the launcher does; errors as notifications
//
// XDG autostart starts the first in every desktop session; the "Wipe memory
// now" launcher runs the second. Package desktop has the logic.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ramwipe/ramwipe/desktop"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: ramwipe-notify [options]

Without --panic: follow ramwiped's state and show a desktop notification on
each change, until the session ends. With --panic: wipe now; if that fails,
say why in a notification.

options:`

// version is the package version, set by the build (-ldflags -X).
var version = "devel"

// Exit codes, as ramwipe's.
const (
	exitOK        = 0
	exitNotArmed  = 1 // --panic: a dry run wiped nothing
	exitFailed    = 2 // --panic: not sent, or refused; or no session bus
	exitUsageCode = 64
)

// panicTimeout bounds a panic request, as ramwipe's.
const panicTimeout = 10 * time.Second

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ramwipe-notify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "/run/ramwipe/control.sock", "ramwiped's control socket")
	interval := fs.Duration("interval", desktop.DefaultInterval, "time between status polls while ramwiped answers")
	doPanic := fs.Bool("panic", false, "erase the disk keys and wipe memory NOW, without asking; show errors as notifications")
	showVersion := fs.Bool("version", false, "print ramwipe-notify's version and exit")
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
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ramwipe-notify: unexpected arguments %q\n\n", fs.Args())
		printUsage(stderr)
		return exitUsageCode
	}
	if *showVersion {
		fmt.Fprintln(stdout, "ramwipe-notify", version)
		return exitOK
	}
	if *interval < time.Second {
		fmt.Fprintf(stderr, "ramwipe-notify: -interval %v: want 1s or more\n", *interval)
		return exitUsageCode
	}
	logger := log.New(stderr, "ramwipe-notify: ", 0)
	bus := &desktop.DBus{Address: sessionBus(), AppName: "ramwipe", Icon: "ramwipe"}
	defer bus.Close()
	if *doPanic {
		pctx, cancel := context.WithTimeout(ctx, panicTimeout)
		defer cancel()
		err := desktop.Panic(pctx, desktop.Socket(*socket), bus, *socket, userName())
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, desktop.ErrDryRun):
			logger.Print(err)
			return exitNotArmed
		}
		logger.Print(err)
		return exitFailed
	}
	if bus.Address == "" {
		logger.Print("no session D-Bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist")
		return exitFailed
	}
	a := &desktop.Agent{
		Client:   desktop.Socket(*socket),
		Notifier: bus,
		Socket:   *socket,
		User:     userName(),
		Interval: *interval,
		Logf:     logger.Printf,
	}
	if err := a.Run(ctx); err != nil {
		logger.Print(err)
		return exitFailed
	}
	return exitOK
}

// sessionBus returns the session bus's address: $DBUS_SESSION_BUS_ADDRESS,
// else $XDG_RUNTIME_DIR/bus if it exists (systemd's user bus), else "".
func sessionBus() string {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		p := filepath.Join(d, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode().Type() == os.ModeSocket {
			return "unix:path=" + p
		}
	}
	return ""
}

// userName is the login name for the not-authorized notification's
// `sudo adduser` line: $USER, which login sets, else the user database's
// name for this uid; "" if neither is known.
func userName() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
