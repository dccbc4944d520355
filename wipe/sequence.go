package wipe

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// KeyEraser erases the dm-crypt master keys of every crypt device.
type KeyEraser interface {
	EraseKeys(ctx context.Context) error
}

// KeyringSweeper invalidates the disk-encryption keys in kernel keyrings.
type KeyringSweeper interface {
	Sweep() error
}

// Machine ends the running system.
type Machine interface {
	// Kexec reboots into the preloaded wipe image; it returns only on failure.
	Kexec() error
	// PowerOff powers off at once; it returns only on failure.
	PowerOff() error
}

// Sequence is the panic path. Build it when arming; Run it on a trigger.
type Sequence struct {
	Keys    KeyEraser      // nil: no dm-crypt (nothing to erase)
	Keyring KeyringSweeper // nil: skip
	Machine Machine
	// Armed says a wipe image is loaded; when false Run powers off after
	// the keys (the degraded mode).
	Armed bool
	// KeyDeadline bounds the key erase (default 2s): a hung device must
	// not keep the machine from the wipe.
	KeyDeadline time.Duration
	// Mark, if set, is told when each step starts and ends (the daemon
	// writes these to /dev/kmsg, opened when arming, so the lab can time
	// them). It must not block.
	Mark func(step string)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Steps of the sequence, as passed to Mark.
const (
	StepTrigger   = "trigger"
	StepKeysDone  = "keys-wiped"
	StepKeyring   = "keyring-swept"
	StepKexec     = "kexec"
	StepPowerOff  = "poweroff"
	StepAllFailed = "all-failed"
)

// ErrNoMachine is returned when the sequence has no Machine to end with.
var ErrNoMachine = errors.New("wipe: no machine to kexec or power off")

// Run runs the panic sequence. It returns only if both the kexec and the
// power-off failed (or with no Machine), with every step's error joined.
func (s *Sequence) Run(ctx context.Context) error {
	mark := s.Mark
	if mark == nil {
		mark = func(string) {}
	}
	mark(StepTrigger)
	var errs []error
	if s.Keys != nil {
		d := s.KeyDeadline
		if d <= 0 {
			d = 2 * time.Second
		}
		kctx, cancel := context.WithTimeout(ctx, d)
		if err := s.eraseKeys(kctx); err != nil {
			errs = append(errs, fmt.Errorf("erase dm-crypt keys: %w", err))
		}
		cancel()
	}
	mark(StepKeysDone)
	if s.Keyring != nil {
		if err := s.Keyring.Sweep(); err != nil {
			errs = append(errs, fmt.Errorf("sweep keyrings: %w", err))
		}
	}
	mark(StepKeyring)
	if s.Machine == nil {
		return errors.Join(append(errs, ErrNoMachine)...)
	}
	if s.Armed {
		mark(StepKexec)
		errs = append(errs, fmt.Errorf("kexec into the wipe image: %w", s.Machine.Kexec()))
	}
	mark(StepPowerOff)
	errs = append(errs, fmt.Errorf("power off: %w", s.Machine.PowerOff()))
	mark(StepAllFailed)
	return errors.Join(errs...)
}

// eraseKeys runs the eraser but gives up waiting at the deadline: a device
// stuck in an ioctl must not hold the sequence.
func (s *Sequence) eraseKeys(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.Keys.EraseKeys(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("gave up waiting: %w", ctx.Err())
	}
}
