package wipe

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// log records the order of everything the fakes see.
type log struct {
	mu    sync.Mutex
	steps []string
}

func (l *log) add(s string) { l.mu.Lock(); l.steps = append(l.steps, s); l.mu.Unlock() }

type fakeKeys struct {
	l     *log
	err   error
	block bool
}

func (k fakeKeys) EraseKeys(ctx context.Context) error {
	k.l.add("erase")
	if k.block {
		select {} // a device stuck in an ioctl: never returns
	}
	return k.err
}

type fakeKeyring struct {
	l   *log
	err error
}

func (k fakeKeyring) Sweep() error { k.l.add("sweep"); return k.err }

type fakeMachine struct {
	l                  *log
	kexecErr, powerErr error
}

func (m fakeMachine) Kexec() error    { m.l.add("kexec"); return m.kexecErr }
func (m fakeMachine) PowerOff() error { m.l.add("poweroff"); return m.powerErr }

var (
	errKexec = errors.New("kexec failed")
	errPower = errors.New("power off failed")
)

func TestSequenceOrder(t *testing.T) {
	tests := []struct {
		name      string
		keysErr   error
		ringErr   error
		armed     bool
		kexecErr  error
		powerErr  error
		want      []string
		wantErrs  []string
		wantMarks []string
	}{
		{
			name: "armed: keys, keyring, kexec, and power off if kexec returns", armed: true, kexecErr: errKexec, powerErr: errPower,
			want:      []string{"erase", "sweep", "kexec", "poweroff"},
			wantErrs:  []string{"kexec failed", "power off failed"},
			wantMarks: []string{StepTrigger, StepKeysDone, StepKeyring, StepKexec, StepPowerOff, StepAllFailed},
		},
		{
			name: "degraded: no kexec, power off", armed: false, powerErr: errPower,
			want:      []string{"erase", "sweep", "poweroff"},
			wantErrs:  []string{"power off failed"},
			wantMarks: []string{StepTrigger, StepKeysDone, StepKeyring, StepPowerOff, StepAllFailed},
		},
		{
			name: "failing steps never stop the later ones", armed: true,
			keysErr: errors.New("DM_DEV_SUSPEND \"cryptroot\": EIO"), ringErr: errors.New("keyctl: EACCES"),
			kexecErr: errKexec, powerErr: errPower,
			want:     []string{"erase", "sweep", "kexec", "poweroff"},
			wantErrs: []string{"erase dm-crypt keys: DM_DEV_SUSPEND", "sweep keyrings: keyctl", "kexec failed", "power off failed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &log{}
			var marks []string
			s := &Sequence{
				Keys:    fakeKeys{l: l, err: tt.keysErr},
				Keyring: fakeKeyring{l: l, err: tt.ringErr},
				Machine: fakeMachine{l: l, kexecErr: tt.kexecErr, powerErr: tt.powerErr},
				Armed:   tt.armed,
				Mark:    func(s string) { marks = append(marks, s) },
			}
			err := s.Run(context.Background())
			assert.Equal(t, tt.want, l.steps)
			for _, w := range tt.wantErrs {
				assert.ErrorContains(t, err, w)
			}
			if tt.wantMarks != nil {
				assert.Equal(t, tt.wantMarks, marks)
			}
		})
	}
}

func TestSequenceHungDeviceDoesNotBlock(t *testing.T) {
	l := &log{}
	s := &Sequence{
		Keys:        fakeKeys{l: l, block: true},
		Machine:     fakeMachine{l: l, kexecErr: errKexec, powerErr: errPower},
		Armed:       true,
		KeyDeadline: time.Millisecond,
	}
	err := s.Run(context.Background())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	// The eraser's goroutine may start only after the deadline passed (a
	// loaded machine): what matters is that the kexec and the power-off
	// came without waiting for it, and that it was asked to erase.
	require.Eventually(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return slices.Contains(l.steps, "erase")
	}, 10*time.Second, time.Millisecond)
	l.mu.Lock()
	defer l.mu.Unlock()
	assert.Equal(t, []string{"kexec", "poweroff"}, slices.DeleteFunc(slices.Clone(l.steps), func(s string) bool { return s == "erase" }))
}

func TestSequenceWithoutDevicesOrMachine(t *testing.T) {
	err := (&Sequence{}).Run(context.Background())
	assert.ErrorIs(t, err, ErrNoMachine)
}

func TestRealMachineRefusesInTests(t *testing.T) {
	// The structural guard: a test can build the real machine, never use it.
	m := Real()
	require.ErrorIs(t, m.PowerOff(), ErrInTest)
	require.ErrorContains(t, m.Kexec(), "refused in a test binary")
}
