//go:build !lab

package main

import (
	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/wipe/fill"
)

// labHooks is the identity in release builds: ramwipe.lab= does nothing.
func labHooks(initramfs.Params, *fill.Options) bool {
	return false
}
