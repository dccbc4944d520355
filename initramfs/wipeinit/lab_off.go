//go:build !lab

package main

import (
	"github.com/ramwipe/ramwipe/initramfs"
	"github.com/ramwipe/ramwipe/wipe/fill"
)

// labHooks is the identity in release builds: ramwipe.lab= does nothing.
func labHooks(_ initramfs.Params, start fill.StartFunc, _ int, _ func(string, ...any)) (fill.StartFunc, bool) {
	return start, false
}
