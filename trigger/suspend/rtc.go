package suspend

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// DefaultAlarm is the first RTC's wake alarm in sysfs.
const DefaultAlarm = "/sys/class/rtc/rtc0/wakealarm"

// SysfsAlarm is an RTC's wake alarm as sysfs shows it
// (Documentation/ABI/stable/sysfs-class-rtc): reading gives the alarm's
// time in seconds since the epoch as the RTC counts, or nothing when none
// is set; writing "+N" sets it N seconds after the RTC's now, "0" clears
// it, and setting one while another is set fails with EBUSY. The file is
// opened for each read and write.
type SysfsAlarm struct {
	Path string
	// Logf hears of an alarm that another program had set and Set
	// replaced; nil discards.
	Logf func(string, ...any)
}

// Probe opens the alarm for writing, and writes nothing.
func (a SysfsAlarm) Probe() error {
	f, err := os.OpenFile(a.Path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// Set sets the alarm after (rounded up to whole seconds) from the RTC's
// now, replacing one set before, and returns what the alarm reads then.
func (a SysfsAlarm) Set(after time.Duration) (string, error) {
	secs := int64((after + time.Second - 1) / time.Second)
	set := fmt.Sprintf("+%d", secs)
	err := a.write(set)
	if errors.Is(err, syscall.EBUSY) {
		old, _ := a.Read()
		if err = a.write("0"); err == nil {
			err = a.write(set)
		}
		if err == nil && a.Logf != nil {
			a.Logf("sleep: replaced the RTC wake alarm another program had set (%s)", old)
		}
	}
	if err != nil {
		return "", err
	}
	v, err := a.Read()
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", fmt.Errorf("%s reads no alarm after writing %s", a.Path, set)
	}
	return v, nil
}

// Read returns the pending alarm, "" if none.
func (a SysfsAlarm) Read() (string, error) {
	f, err := os.Open(a.Path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Clear cancels the alarm.
func (a SysfsAlarm) Clear() error { return a.write("0") }

func (a SysfsAlarm) write(s string) error {
	f, err := os.OpenFile(a.Path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s to %s: %w", s, a.Path, err)
	}
	return nil
}
