// Package suspend is ramwiped's on_suspend policy: what a suspend to RAM
// does to a machine whose disk keys are in memory.
//
// # Policies
//
// [ParsePolicy] reads ramwipe.conf's on_suspend value:
//
//   - allow (the default): suspend as usual; the keys stay in RAM, powered,
//     while the machine sleeps.
//   - wipe: a request to suspend (suspend, hybrid-sleep,
//     suspend-then-hibernate) runs the panic sequence instead, before the
//     machine sleeps.
//   - wipe-after DURATION: suspend as usual, with an RTC wake alarm set for
//     DURATION later; if the machine is still asleep when the alarm fires
//     it wakes and wipes; an earlier wake (the owner's) cancels the alarm.
//
// Hibernation ("hibernate") is allowed under every policy: the machine
// powers off, and the keys go to the hibernation image on swap, which must
// be encrypted (ramwipe check says whether it is).
//
// # How the daemon hears of a suspend
//
// systemd-sleep runs /usr/lib/systemd/system-sleep/ramwipe with "pre
// <type>" before and "post <type>" after each sleep; the hook (`ramwipe
// sleep-hook`) sends "RAMWIPE/1 sleep pre-<type>" over the control socket
// and waits for the answer ([ParseEvent] reads the argument). [Guard.Pre]
// and [Guard.Post] serve it.
//
// The daemon also notices a resume by itself ([Guard.Resumed], called on
// the kernel's clock-was-set notification, and the CLOCK_BOOTTIME timer at
// the deadline): a sleep shows as a jump of CLOCK_BOOTTIME − CLOCK_MONOTONIC,
// the two clocks differing only by time spent suspended. So a missing or
// failed post hook still ends in the right decision, and a suspend that
// was never announced (no pre hook: the hook missing, ramwiped restarted,
// a suspend not done by systemd) is judged by its length.
//
// # Telling the two wakes apart
//
// After a sleep under wipe-after, the wake is the alarm's (wipe) if any of
// these holds, and the owner's (cancel the alarm, go on) only if none does:
//
//   - CLOCK_BOOTTIME has reached the deadline, less a margin of 3 s plus
//     0.1 % of the delay (the RTC counts whole seconds, and the sleep time
//     the kernel adds to CLOCK_BOOTTIME is read from the RTC);
//   - the wall clock has reached the deadline as the wall clock saw it at
//     pre, less the same margin;
//   - the two clocks disagree about how long the machine slept by more than
//     the margin (someone set the clock, or one of them is wrong);
//   - the RTC alarm cannot be read, or no longer reads what was set (it
//     fired, or something else changed it).
//
// Every doubt wipes: a false wipe costs unsaved work, a missed one the
// disk's contents.
//
// Not guaranteed: the RTC must be able to wake the machine from the sleep
// state used (most laptops can from S3 and s2idle); an alarm further away
// than the RTC supports (some keep alarms only within 24 h) fails to set,
// and then the pre request wipes at once. ramwiped and the hook must both
// run: a suspend without the hook can only be judged at the next resume.
package suspend
