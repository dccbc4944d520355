package control

import (
	"fmt"
	"time"
)

// State is how far ramwiped protects the machine now.
type State int

// The states a [Status] may report.
const (
	// StateUnknown is the zero State: nothing was reported.
	StateUnknown State = iota
	// StateDryRun: started without --armed; a trigger only logs.
	StateDryRun
	// StateArmed: the wipe image is loaded and a trigger wipes.
	StateArmed
	// StateDegraded: a trigger erases the keys (where it can) and powers
	// off, but something is missing; [Status.Why] says what.
	StateDegraded
)

var stateNames = [...]string{StateUnknown: "unknown", StateDryRun: "dry-run", StateArmed: "armed", StateDegraded: "degraded"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("State(%d)", int(s))
	}
	return stateNames[s]
}

// MarshalText encodes s as its name ("armed", "degraded", "dry-run").
func (s State) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(stateNames) {
		return nil, fmt.Errorf("marshal %v: no such state", s)
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText decodes a state's name; an unknown name is an error, so
// that a newer daemon's state is never taken for "armed".
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if string(b) == n {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown state %q", b)
}

// Status is the text of an OK reply to "status", as JSON: what ramwiped
// says of itself.
type Status struct {
	State State `json:"state"`
	// Why explains a degraded or dry-run state and says what to do.
	Why          string   `json:"why,omitempty"`
	Kernel       string   `json:"kernel"`
	Initramfs    string   `json:"initramfs"`
	Cmdline      string   `json:"cmdline"`
	CryptDevices []string `json:"crypt_devices"`
	Triggers     []string `json:"triggers"`
	// Hotkey is the panic chord when the hotkey trigger runs, in the form
	// of ramwipe.conf's hotkey setting (KEY_LEFTCTRL+KEY_RIGHTCTRL+…).
	Hotkey      string `json:"hotkey,omitempty"`
	KexecLocked bool   `json:"kexec_locked"`
	// ShutdownWipe says whether poweroff, reboot and halt wipe memory
	// ("staged") or why not.
	ShutdownWipe string    `json:"shutdown_wipe,omitempty"`
	ArmedAt      time.Time `json:"armed_at"`
	LastError    string    `json:"last_error,omitempty"`
	// Refused counts the control connections refused since ramwiped
	// started (not authorized, or every slot taken); see [Server.Refused].
	Refused uint64 `json:"refused_connections"`
	// Watching says, per trigger, what it watches now or why it is off.
	Watching []Watch `json:"watching,omitempty"`
	// Suspend is the on_suspend policy and its state.
	Suspend *SuspendStatus `json:"suspend,omitempty"`
}

// Watch is what one trigger watches, or why it is off.
type Watch struct {
	Trigger string `json:"trigger"`
	On      bool   `json:"on"`
	// What it watches ("left ctrl + right ctrl + backspace on: …"), or
	// why it is off and what turns it on.
	What string `json:"what"`
}
