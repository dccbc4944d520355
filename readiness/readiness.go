package readiness

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Severity ranks a finding. The order matters: a report's exit code is
// its worst finding's.
type Severity int

// Severities, from harmless to "a wipe cannot protect this machine".
const (
	OK   Severity = iota // nothing to do
	Info                 // worth knowing; nothing is wrong
	Warn                 // a gap a thief can use; fix it
	Fail                 // the wipe cannot work, or keys reach the disk in clear
)

var severityNames = [...]string{OK: "ok", Info: "info", Warn: "warn", Fail: "fail"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText writes the severity as its name: ok, info, warn or fail.
func (s Severity) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(severityNames) {
		return nil, fmt.Errorf("readiness: severity %d out of range", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	for i, n := range severityNames {
		if string(b) == n {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("readiness: severity %q: want ok, info, warn or fail", b)
}

// Checks, as [Finding.Check] names them.
const (
	CheckKexec       = "kexec"
	CheckLockdown    = "lockdown"
	CheckSecureBoot  = "secureboot"
	CheckUnattended  = "unattended-unlock"
	CheckSwap        = "swap"
	CheckHibernation = "hibernation"
	CheckKdump       = "kdump"
	CheckKeyring     = "keyring"
	CheckHotkey      = "hotkey"
	CheckSuspend     = "suspend"
	CheckUSBInsert   = "usb-insert"
)

// Finding is one result of the audit.
type Finding struct {
	// Check names the question asked, one of the Check… constants.
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	// What was found, in one line.
	What string `json:"what"`
	// Do says what to do about it; empty when there is nothing to do.
	Do string `json:"do,omitempty"`
}

// Report is the audit's result: findings in the order the checks run.
type Report struct {
	Findings []Finding `json:"findings"`
}

// Worst returns the highest severity among the findings, [OK] if none.
func (r *Report) Worst() Severity {
	w := OK
	for _, f := range r.Findings {
		w = max(w, f.Severity)
	}
	return w
}

// Options configures [Audit].
type Options struct {
	// Config is ramwiped's configuration file, read for the hotkey
	// chord and the USB-insertion trigger; "" means
	// /etc/ramwipe/ramwipe.conf.
	Config string
	// Privileged says the audit runs as root; it decides whether a
	// missing view (other users' keys) is worth an [Info] finding.
	// [Audit] sets it from the effective user id.
	Privileged bool
}

// DefaultConfig is ramwiped's configuration file.
const DefaultConfig = "/etc/ramwipe/ramwipe.conf"

// Audit audits the running system. It reads files only.
func Audit(opts Options) *Report {
	opts.Privileged = os.Geteuid() == 0
	return audit("/", opts)
}

// auditor runs the checks against a file tree: "/" or a test's fake.
type auditor struct {
	root string
	opts Options
	r    *Report
	// swaps is filled by the swap check and read by the hibernation
	// check: the swap devices found, and whether each is encrypted.
	swaps []swapDev
}

func audit(root string, opts Options) *Report {
	if opts.Config == "" {
		opts.Config = DefaultConfig
	}
	a := &auditor{root: root, opts: opts, r: &Report{}}
	a.kexec()
	a.lockdown()
	a.secureBoot()
	a.unattendedUnlock()
	a.swap()
	a.hibernation()
	a.kdump()
	a.keyring()
	a.hotkey()
	a.suspend()
	a.usbInsert()
	return a.r
}

func (a *auditor) add(check string, sev Severity, do string, format string, args ...any) {
	a.r.Findings = append(a.r.Findings, Finding{Check: check, Severity: sev, What: fmt.Sprintf(format, args...), Do: do})
}

// path returns the real path of an absolute path p in the audited tree.
func (a *auditor) path(p string) string { return filepath.Join(a.root, filepath.FromSlash(p)) }

// maxFile bounds what the audit reads of one file.
const maxFile = 4 << 20

// read reads the file at absolute path p of the audited tree.
func (a *auditor) read(p string) ([]byte, error) {
	f, err := os.Open(a.path(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err == nil && len(b) > maxFile {
		err = fmt.Errorf("%s: longer than %d bytes", p, maxFile)
	}
	return b, err
}

// readTrim reads a one-value file such as a sysfs attribute.
func (a *auditor) readTrim(p string) (string, error) {
	b, err := a.read(p)
	return strings.TrimSpace(string(b)), err
}

// exists reports whether absolute path p exists in the audited tree.
func (a *auditor) exists(p string) bool {
	_, err := os.Lstat(a.path(p))
	return err == nil
}

// unreadable adds the finding for a file the audit could not read, saying
// what running as root would add.
func (a *auditor) unreadable(check, p string, err error) {
	do := ""
	if errors.Is(err, fs.ErrPermission) && !a.opts.Privileged {
		do = "run ramwipe check as root to check this"
	}
	a.add(check, Info, do, "could not read %s: %v", p, unwrapPath(err))
}

// unwrapPath drops the path from an *fs.PathError, which would repeat
// the audited tree's root.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
