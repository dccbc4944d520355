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
		fmt.Fprintln(os.Stderr, "ramwiped:", err)
		os.Exit(1)
	}
}

// flags parses the command line over the config file's values.
func flags(args []string, stderr io.Writer) (cfg Config, armed bool, err error) {
	fs := flag.NewFlagSet("ramwiped", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "/etc/ramwipe/ramwipe.conf", "config file (a missing file is not an error)")
	kernel := fs.String("kernel", "", "kernel the wipe image boots (default: the running kernel's /boot/vmlinuz-$(uname -r))")
	initrd := fs.String("initramfs", "", "the wipe image (overrides the config file)")
	extra := fs.String("cmdline-extra", "", "added to the wipe kernel's command line")
	socket := fs.String("socket", "", "control socket path (overrides the config file)")
	armedF := fs.Bool("armed", false, "really erase keys and wipe on a trigger; without it ramwiped only logs")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg = DefaultConfig()
	data, err := os.ReadFile(*config)
	switch {
	case err == nil:
		if cfg, err = ParseConfig(*config, data, cfg); err != nil {
			return cfg, false, fmt.Errorf("refusing to start with a bad config file:\n%w", err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return cfg, false, err
	}
	for dst, v := range map[*string]string{&cfg.Kernel: *kernel, &cfg.Initramfs: *initrd, &cfg.CmdlineExtra: *extra, &cfg.Socket: *socket} {
		if v != "" {
			*dst = v
		}
	}
	return cfg, *armedF, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, armed, err := flags(args, stderr)
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
