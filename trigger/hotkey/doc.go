// Package hotkey watches every keyboard for the panic chord.
//
// [ParseChord] reads a chord such as "KEY_LEFTCTRL+KEY_RIGHTCTRL+KEY_BACKSPACE"
// or "KEY_PAUSE*3/2s" (the chord completed three times within two seconds).
// [Matcher] is a pure state machine that recognises the chord in input
// events, per device, with SYN_DROPPED resynchronisation and a [Clock] for
// the N-times window. [Watcher] opens every /dev/input/event* keyboard
// read-only, adds and drops devices on input uevents ([Watcher.HandleUevent]),
// runs one goroutine per device blocked in read(2), and calls
// [Config.OnChord] on each completion.
//
// # The default chord
//
// [DefaultChord] is left Ctrl + right Ctrl + Backspace, held together:
//
//   - Nothing binds it. The kernel console binds Ctrl+Alt+Del (reboot),
//     Alt+F1…F12 and Ctrl+Alt+F1…F12 (VT switch), Alt+SysRq+… (magic SysRq)
//     and Shift+PageUp; X binds Ctrl+Alt+Backspace; GNOME and KDE bind
//     Super+…, Ctrl+Alt+T/L/Del/Esc/Tab/arrows, Alt+PrintScreen. None of
//     these needs both Ctrl keys, and no desktop treats "both Ctrl keys" as
//     a modifier. An application that sees it sees Ctrl+Backspace (delete a
//     word), which is harmless.
//   - It is hard to hit by accident: the two Ctrl keys sit at opposite ends
//     of the bottom row, so it takes two hands; Backspace is on the top
//     right, out of reach of an arm or a bag lying across the bottom row
//     (which would press Ctrl, Alt and Space together).
//   - Every keyboard has it without Fn: laptops hide Pause, ScrollLock,
//     SysRq and often F-keys behind Fn, or send media keys from F1–F12.
//   - Key codes are positions, so it is the same key on every layout.
//
// Keyboards without a right Ctrl (Apple keyboards, some compact laptops)
// need another chord. KEY_LEFTCTRL+KEY_RIGHTSHIFT+KEY_BACKSPACE*2/1s keeps
// the two-handed shape; avoid a right Alt there, which on US layouts is Alt
// and makes X's Ctrl+Alt+Backspace.
// [ParseChord] refuses chords that the kernel or systemd act on first
// (Alt+SysRq, Ctrl+Alt+Del): those reboot with memory intact.
//
// # What the package keeps
//
// Nothing but "the chord was completed" leaves the package. Where the
// kernel supports it (EVIOCSMASK, Linux 4.4+) each device is told to deliver
// only the chord's key events, so other keystrokes never reach the process
// at all; the [Matcher] keeps one bit per chord key per device and, for a
// "*N/T" chord, the times of the last completions; read buffers are
// cleared after each batch. Logs name devices, never keys.
//
// Needs: Linux with evdev (CONFIG_INPUT_EVDEV) and read access to
// /dev/input/event* (root, or the input group). Devices are never grabbed
// (no EVIOCGRAB): the desktop sees every key as before.
//
// Not guaranteed: a keyboard whose input does not go through evdev
// (some virtual machine consoles, remote desktops) is not seen; a chord
// typed while the process is stopped or swapped out is seen late, or not at
// all if the device's buffer overflows and the keys are released before
// the resync. [Config.OnChord] runs on a device goroutine: the panic path
// must not wait on the Watcher.
package hotkey
