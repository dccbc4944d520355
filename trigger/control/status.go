package control

import "time"

// Status is the text of an OK reply to "status", as JSON: what ramwiped
// says of itself.
type Status struct {
	// State is "armed", "degraded" or "dry-run".
	State string `json:"state"`
	// Why explains a degraded or dry-run state and says what to do.
	Why          string   `json:"why,omitempty"`
	Kernel       string   `json:"kernel"`
	Initramfs    string   `json:"initramfs"`
	Cmdline      string   `json:"cmdline"`
	CryptDevices []string `json:"crypt_devices"`
	Triggers     []string `json:"triggers"`
	KexecLocked  bool     `json:"kexec_locked"`
	// ShutdownWipe says whether poweroff, reboot and halt wipe memory
	// ("staged") or why not.
	ShutdownWipe string    `json:"shutdown_wipe,omitempty"`
	ArmedAt      time.Time `json:"armed_at"`
	LastError    string    `json:"last_error,omitempty"`
}
