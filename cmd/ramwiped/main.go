// Command ramwiped is ramwipe's root daemon: it arms the wipe (loads the
// wipe image with kexec_file_load, locks itself in RAM, opens device-mapper)
// and waits for triggers. On a trigger it erases the dm-crypt keys and
// kexecs into the wipe image.
//
// Without --armed it is a dry run: nothing is loaded and a trigger is only
// logged. The packaged service starts it with --armed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errDone) {
			fmt.Fprintln(os.Stderr, "ramwiped:", err)
		}
		os.Exit(exitCode(err))
	}
}

// version is the package version, set by the build (-ldflags -X).
var version = "devel"

// errDone ends run early with exit 0: -h, -version, a good -check-config.
var errDone = errors.New("done")

// errUsage wraps a command-line error (exit 64, as sysexits' EX_USAGE).
var errUsage = errors.New("usage")

func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, errDone):
		return 0
	case errors.Is(err, errUsage):
		return 64
	}
	return 1
}

const defaultConfig = "/etc/ramwipe/ramwipe.conf"

// flags parses the command line over the config file's values. -h,
// -version and -check-config answer on stdout and return errDone.
func flags(args []string, stdout, stderr io.Writer) (cfg Config, armed bool, err error) {
	fs := flag.NewFlagSet("ramwiped", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	config := fs.String("config", defaultConfig, "config file (a missing file is not an error)")
	kernel := fs.String("kernel", "", "kernel the wipe image boots (default: the running kernel's /boot/vmlinuz-$(uname -r))")
	initrd := fs.String("initramfs", "", "the wipe image (overrides the config file)")
	extra := fs.String("cmdline-extra", "", "added to the wipe kernel's command line")
	socket := fs.String("socket", "", "control socket path (overrides the config file)")
	armedF := fs.Bool("armed", false, "really erase keys and wipe on a trigger; without it ramwiped only logs")
	check := fs.Bool("check-config", false, "check the config file (-config, or the file named after the flags) and exit: 0 if good, 1 with file:line errors")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "usage: ramwiped [options]")
			fs.PrintDefaults()
			return cfg, false, errDone
		}
		return cfg, false, fmt.Errorf("%w: %v (ramwiped -h lists the options)", errUsage, err)
	}
	if *showVersion {
		fmt.Fprintln(stdout, "ramwiped", version)
		return cfg, false, errDone
	}
	switch {
	case *check && fs.NArg() == 1:
		*config = fs.Arg(0)
	case fs.NArg() > 0:
		return cfg, false, fmt.Errorf("%w: unexpected argument %q (ramwiped -h lists the options)", errUsage, fs.Arg(0))
	}
	cfg = DefaultConfig()
	data, err := os.ReadFile(*config)
	switch {
	case err == nil:
		if cfg, err = ParseConfig(*config, data, cfg); err != nil {
			if *check {
				return cfg, false, err
			}
			return cfg, false, fmt.Errorf("refusing to start with a bad config file (ramwiped -check-config checks one before a restart):\n%w", err)
		}
	case *check:
		return cfg, false, fmt.Errorf("check %s: %w", *config, err)
	case !errors.Is(err, os.ErrNotExist):
		return cfg, false, err
	}
	if *check {
		fmt.Fprintf(stdout, "%s: good\n", *config)
		return cfg, false, errDone
	}
	for dst, v := range map[*string]string{&cfg.Kernel: *kernel, &cfg.Initramfs: *initrd, &cfg.CmdlineExtra: *extra, &cfg.Socket: *socket} {
		if v != "" {
			*dst = v
		}
	}
	return cfg, *armedF, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, armed, err := flags(args, stdout, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, logOptions(os.Getenv("JOURNAL_STREAM") != "")))
	logf := func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) }
	d := &daemon{cfg: cfg, plat: &linux{logf: logf}, armed: armed, logf: logf}
	d.arm()
	err = serve(ctx, d, log)
	d.disarm()
	return err
}

// logOptions leaves out each record's time when stderr goes to systemd's
// journal (systemd sets JOURNAL_STREAM then), which stamps every line.
func logOptions(journal bool) *slog.HandlerOptions {
	if !journal {
		return nil
	}
	return &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
}
