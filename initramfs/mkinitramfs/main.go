// Command mkinitramfs writes the wipe image: a cpio archive with the given
// /init, and beside it the kernel command line a loader passes with it.
//
//	mkinitramfs -init build/wipeinit -o build/ramwipe-initramfs.cpio
//
// writes build/ramwipe-initramfs.cpio and build/ramwipe-initramfs.cmdline.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/initramfs/archive"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mkinitramfs:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkinitramfs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	initPath := fs.String("init", "", "the static /init binary")
	out := fs.String("o", "", "the archive to write; the command line goes to the same name ending in .cmdline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *initPath == "" || *out == "" || fs.NArg() > 0 {
		return errors.New("usage: mkinitramfs -init BINARY -o ARCHIVE.cpio")
	}
	data, err := os.ReadFile(*initPath)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := archive.Build(&buf, []archive.File{{Name: "init", Data: data, Mode: 0o755}}); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	cmdline := strings.TrimSuffix(*out, ".cpio") + ".cmdline"
	return os.WriteFile(cmdline, []byte(initramfs.DefaultCmdline+"\n"), 0o644)
}
