package fill

import (
	"bytes"
	"errors"
	"io"
	"syscall"
)

// oomMark is what the OOM killer writes into the kernel log when it ends a
// process (mm/oom_kill.c: "%s: Killed process %d (%s) total-vm:…"), at the
// moment it sends SIGKILL: before the process's memory is freed.
var oomMark = []byte(": Killed process ")

// WatchOOM reads kernel log records from kmsg (/dev/kmsg opened for
// reading and positioned at its end, so that only new records come) and
// closes the returned channel at the first one in which the OOM killer
// ended a process: in the wipe image only fill workers take memory, so
// that means memory is full. It gives up quietly when kmsg fails; the
// fill then learns it from the worker's end, later. Pass the channel as
// [Options.Full].
func WatchOOM(kmsg io.Reader) <-chan struct{} {
	full := make(chan struct{})
	go func() {
		buf := make([]byte, 8192) // a record is at most 1 KiB of text plus its dictionary
		for {
			n, err := kmsg.Read(buf)
			if errors.Is(err, syscall.EPIPE) {
				continue // records were overwritten before we read them
			}
			if err != nil {
				return
			}
			if OOMKill(buf[:n]) {
				close(full)
				return
			}
		}
	}()
	return full
}

// OOMKill reports whether a /dev/kmsg record ("PRI,SEQ,USEC,FLAGS;TEXT\n"
// and continuation lines) says the OOM killer ended a process.
func OOMKill(record []byte) bool {
	_, text, ok := bytes.Cut(record, []byte(";"))
	if !ok {
		return false
	}
	if i := bytes.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	return bytes.Contains(text, oomMark)
}
