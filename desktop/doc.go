// Package desktop tells the person at a desktop whether ramwipe protects
// the machine: [Agent] follows ramwiped's state over the control socket and
// shows a desktop notification on every change, and [Panic] is the
// launcher's panic request, which shows what went wrong as a notification
// since a launcher has no terminal.
//
// # States and notifications
//
// Each poll of "status" ends in one condition: armed, dry run, degraded
// (with ramwiped's why), stopped (no connection, or no answer), not
// authorized (the user is not in ramwiped's group), or unreadable (an
// answer this agent does not understand). [Agent] notifies when the
// condition differs from the one it last showed — and for degraded and dry
// run when the why differs — so that each change is shown once; each
// notification replaces the one before it, so a critical "NOT protected"
// does not stay on screen after ramwiped is back. Critical urgency for
// everything but armed and not authorized.
//
// # Polls
//
// One status request every [Agent.Interval] while ramwiped answers. A
// failed connection is retried after 1 s, 2 s, 4 s… up to the interval;
// stopped is shown only after [ConfirmFailures] failures in a row (about
// 3 s), so that a restart of ramwiped is not reported as an outage. Not
// authorized ends polling once shown: group membership takes effect at the
// next login, and each refused connection is logged and counted by
// ramwiped.
//
// # Needs
//
// A session D-Bus with a notification server (org.freedesktop.Notifications;
// [DBus] is the client). Nothing else: no root, no group. Not guaranteed: a
// notification server may hide, delay or drop notifications (do-not-disturb
// modes do); an OK answer to a panic request only says that ramwiped took it.
package desktop
