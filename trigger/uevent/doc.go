// Package uevent receives the kernel's device events (uevents) from a
// NETLINK_KOBJECT_UEVENT socket and parses them.
//
// [Parse] is pure: it turns one netlink payload, `action@devpath` followed by
// NUL-terminated KEY=VALUE variables, into an [Event]. [Listen] opens the
// socket (group 1, the kernel's own messages, not udev's) and
// [Listener.Receive] returns one event at a time, blocking in the Go runtime's
// poller (no timeouts, no polling loop) until the kernel sends one or
// [Listener.Close] is called.
//
// Needs: Linux, and the initial network namespace (the kernel broadcasts most
// uevents only there: a service with PrivateNetwork=yes receives none).
// Receiving needs no privilege; a receive buffer beyond net.core.rmem_max
// needs CAP_NET_ADMIN.
//
// Not guaranteed: delivery. When the receive buffer overflows the kernel drops
// events and [Listener.Receive] returns [ErrOverrun]; the caller must then
// rebuild its view of the devices from sysfs, because any event may be among
// the lost ones. Messages from senders other than the kernel (port ID not 0)
// are dropped, so only root processes in the same network namespace — which
// can do worse anyway — can forge an event; events the kernel itself
// synthesises on a write to a sysfs uevent file carry SYNTH_UUID, which
// [Event.Synthetic] reports.
package uevent
