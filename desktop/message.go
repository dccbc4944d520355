package desktop

import (
	"fmt"
	"strings"
)

// defaultGroup is the group ramwipe's package creates, named in the
// not-authorized notification when ramwiped's refusal names none.
const defaultGroup = "ramwipe"

// launcherName is the name of debian/ramwipe-panic.desktop.
const launcherName = "Wipe memory now"

// message is the notification that reports o.
func message(o observation, socket, user string) Notification {
	switch o.cond {
	case condArmed:
		body := fmt.Sprintf("Panic hotkey: %s, held together. Or the “%s” launcher.", ChordText(o.hotkey), launcherName)
		if o.hotkey == "" {
			body = fmt.Sprintf("No panic hotkey is set; the “%s” launcher wipes.", launcherName)
		}
		return Notification{Summary: "ramwipe: this machine is armed", Body: body, Urgency: UrgencyNormal}
	case condDegraded:
		return Notification{Summary: "ramwipe: protection is DEGRADED", Body: orDefault(o.why, "ramwiped gives no reason; see: ramwipe status"), Urgency: UrgencyCritical}
	case condDryRun:
		return Notification{Summary: "ramwipe: dry run — this machine is NOT protected", Body: orDefault(o.why, "ramwiped runs without --armed: a trigger only logs."), Urgency: UrgencyCritical}
	case condStopped:
		return Notification{
			Summary: "ramwiped is not running: this machine is NOT protected",
			Body:    fmt.Sprintf("No answer on %s (%s). An admin can look with: systemctl status ramwiped", socket, o.detail),
			Urgency: UrgencyCritical,
		}
	case condNotAuthorized:
		return Notification{Summary: "ramwipe: you may not use the panic button", Body: notAuthorizedBody(o.detail, user), Urgency: UrgencyNormal}
	}
	return Notification{
		Summary: "ramwipe: cannot tell whether this machine is protected",
		Body:    fmt.Sprintf("ramwiped's answer: %s. See: ramwipe status", o.detail),
		Urgency: UrgencyCritical,
	}
}

// notAuthorizedBody says how to get in, from ramwiped's refusal text.
func notAuthorizedBody(refusal, user string) string {
	if strings.Contains(refusal, "only root") {
		return "ramwiped lets only root use it: no group is set in /etc/ramwipe/ramwipe.conf."
	}
	group := defaultGroup
	if _, rest, ok := strings.Cut(refusal, "not in group "); ok {
		if g, _, ok := strings.Cut(rest, ","); ok && g != "" && !strings.ContainsAny(g, " \t") {
			group = g
		}
	}
	if user == "" {
		user = "$USER"
	}
	return fmt.Sprintf("Your account is not in the group %s. An admin adds you:\n  sudo adduser %s %s\nthen log out and in again.", group, user, group)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ChordText writes a chord of ramwipe.conf (KEY_LEFTCTRL+KEY_RIGHTCTRL+
// KEY_BACKSPACE, leftctrl+rightctrl*3/2s) for people: "Left Ctrl + Right
// Ctrl + Backspace", "Left Ctrl + Right Ctrl, 3 times within 2s".
func ChordText(chord string) string {
	keys, rep, hasRep := strings.Cut(chord, "*")
	var names []string
	for k := range strings.SplitSeq(keys, "+") {
		k = strings.ToUpper(strings.TrimSpace(k))
		k = strings.TrimPrefix(k, "KEY_")
		if k != "" {
			names = append(names, keyText(k))
		}
	}
	s := strings.Join(names, " + ")
	if n, within, ok := strings.Cut(rep, "/"); hasRep && ok {
		s += fmt.Sprintf(", %s times within %s", strings.TrimSpace(n), strings.TrimSpace(within))
	}
	return s
}

// keyText writes one key name without its KEY_ prefix: LEFTCTRL as "Left
// Ctrl", BACKSPACE as "Backspace", F12 as "F12".
func keyText(k string) string {
	for _, side := range []string{"LEFT", "RIGHT"} {
		if rest, ok := strings.CutPrefix(k, side); ok && rest != "" && rest != "BRACE" {
			return title(side) + " " + keyText(rest)
		}
	}
	switch k {
	case "META":
		return "Super"
	case "SYSRQ":
		return "SysRq"
	case "PAGEUP":
		return "Page Up"
	case "PAGEDOWN":
		return "Page Down"
	}
	return title(k)
}

func title(s string) string {
	if s == "" {
		return s
	}
	return s[:1] + strings.ToLower(s[1:])
}
