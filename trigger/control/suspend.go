package control

import "time"

// SuspendStatus is what a suspend does, in a [Status]: ramwipe.conf's
// on_suspend policy and, while a wipe-after alarm is pending, its
// deadline.
type SuspendStatus struct {
	// Policy is "allow", "wipe" or "wipe-after DURATION".
	Policy string `json:"policy"`
	// Deadline is when the pending RTC wake alarm wipes the machine if it
	// is still asleep; absent when no alarm is pending.
	Deadline *time.Time `json:"deadline,omitempty"`
	// Problem says why the policy cannot work as asked, and what happens
	// instead.
	Problem string `json:"problem,omitempty"`
}
