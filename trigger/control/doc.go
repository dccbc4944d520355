// Package control is ramwiped's control socket: a unix stream socket over
// which `ramwipe panic|status|test <trigger>` asks the daemon to act.
//
// # Protocol
//
// The client sends one line, "RAMWIPE/1 <command>[ <arg>]\n", of at most
// [MaxRequestLen] bytes; the commands are [CommandStatus], [CommandPanic]
// and [CommandTest], which takes a trigger name of at most [MaxArgLen]
// lowercase letters, digits and '-'. A panic may carry the moment the
// client began to send it, "RAMWIPE/1 panic sent-<ns>" on CLOCK_MONOTONIC
// ([Request.Sent]), so that the daemon can tell, once the keys are erased,
// how long the request took to reach it; [Panic] sends it so, and sends
// the plain form to a daemon that refuses it. The server answers one line, "OK
// <text>\n" or "ERR <text>\n", the text escaped onto one line and at most
// [MaxReplyText] bytes, and closes the connection. [ParseRequest],
// [Request.Marshal], [ParseReply] and [Reply.Marshal] are the pure halves;
// [Do] is the client, [Server] the daemon's side.
//
// # Who may use it
//
// The socket is mode 0666; [Server] decides per connection from the
// credentials the kernel recorded when the peer connected (SO_PEERCRED and
// SO_PEERGROUPS): root, and members of [Server.GID] as primary or
// supplementary group. Everyone else gets "ERR not authorized: …", and the
// refusal is logged with uid, gid, pid and command. No file is read per
// request (the group is resolved by the caller at start), since the root
// file system may be unusable during a panic.
//
// Each connection has its own goroutine, its request is read within
// [Server.ReadTimeout] and [MaxRequestLen] bytes, and authorized and other
// peers have separate pools of [Server.MaxConns] connections: a client
// that sends nothing, or sends slowly, or sends megabytes, delays no one
// else, and users who may not panic cannot crowd out those who may.
//
// Needs: Linux 4.13 or later for SO_PEERGROUPS. On an older kernel
// supplementary groups are unknown (logged once) and only root and peers
// whose primary group is [Server.GID] get in. Other systems build, but
// every connection is refused.
//
// Not guaranteed: the pid is the peer's at connect time and may since
// belong to another process; a process that connected and handed the
// socket to another keeps its own credentials on it; ids are as seen from
// the daemon's user namespace. An OK reply to "panic" says only that the
// [Handler] accepted it, and the machine may be gone before any reply
// arrives, so a client may see the connection close instead. A busy
// refusal ([Reply.Busy]) is not retried for the caller. Nothing stops a
// process with write access to the socket's directory from replacing the
// socket; the directory must be root's.
package control
