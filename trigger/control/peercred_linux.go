package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// initialGroups is how many supplementary groups the first SO_PEERGROUPS
// call has room for; a peer with more costs a second call.
const initialGroups = 64

// ngroupsMax is NGROUPS_MAX (include/uapi/linux/limits.h): no process has
// more supplementary groups.
const ngroupsMax = 65536

// peerCredentials returns the credentials the kernel recorded for the
// process that connected to c, when it called connect(2): SO_PEERCRED for
// pid, uid and gid, SO_PEERGROUPS for the supplementary groups. If only
// the groups cannot be read (Linux before 4.13) it returns the rest, and
// an error wrapping errNoPeerGroups.
func peerCredentials(c *net.UnixConn) (Peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("read peer credentials: %w", err)
	}
	var (
		p          Peer
		uerr, gerr error
	)
	err = raw.Control(func(fd uintptr) {
		u, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			uerr = os.NewSyscallError("getsockopt SO_PEERCRED", err)
			return
		}
		p = Peer{PID: u.Pid, UID: u.Uid, GID: u.Gid}
		p.Groups, gerr = peerGroups(int(fd), initialGroups)
	})
	switch {
	case err != nil:
		return Peer{}, fmt.Errorf("read peer credentials: %w", err)
	case uerr != nil:
		return Peer{}, uerr
	case gerr != nil:
		return p, fmt.Errorf("%w: %w", errNoPeerGroups, gerr)
	}
	return p, nil
}

// peerGroups returns the supplementary groups of the process that
// connected to the socket fd, asking first with room for n groups. The
// kernel answers getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS) so (Linux 4.13,
// net/core/sock.c, sk_getsockopt):
//
//	n = cred->group_info->ngroups;
//	if (len < n * sizeof(gid_t)) {
//		len = n * sizeof(gid_t);
//		put_cred(cred);
//		return copy_to_sockptr(optlen, &len, sizeof(int)) ? -EFAULT : -ERANGE;
//	}
//	len = n * sizeof(gid_t);
//	ret = groups_to_user(optval, cred->group_info);
//	...
//	goto lenout;
//
// that is an array of gid_t (u32) and its size in optlen, or ERANGE and the
// size needed. ([unix.GetsockoptString] would do the calls but cuts the
// answer at its first NUL byte, and every gid below 2^24 has one.) The
// peer's credentials were fixed when it connected, so one retry is enough.
func peerGroups(fd int, n int) ([]uint32, error) {
	buf := make([]uint32, max(n, 1))
	size, err := getsockoptPeerGroups(fd, buf)
	if errors.Is(err, unix.ERANGE) {
		if size%4 != 0 || size > 4*ngroupsMax {
			return nil, fmt.Errorf("getsockopt SO_PEERGROUPS: kernel asks for %d bytes, want a multiple of 4 up to %d", size, 4*ngroupsMax)
		}
		buf = make([]uint32, max(size/4, 1))
		size, err = getsockoptPeerGroups(fd, buf)
	}
	if err != nil {
		return nil, err
	}
	if size%4 != 0 || size > uint32(4*len(buf)) {
		return nil, fmt.Errorf("getsockopt SO_PEERGROUPS: kernel answered %d bytes into a %d-byte buffer", size, 4*len(buf))
	}
	n = int(size / 4)
	return buf[:n:n], nil
}

// getsockoptPeerGroups is getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf,
// &optlen) with optlen the size of buf; it returns optlen as the kernel
// left it, which on ERANGE is the size needed. socklen_t is unsigned int
// on every Linux architecture.
func getsockoptPeerGroups(fd int, buf []uint32) (uint32, error) {
	if len(buf) == 0 || len(buf) > ngroupsMax {
		return 0, fmt.Errorf("getsockopt SO_PEERGROUPS: buffer of %d groups, want 1 to %d", len(buf), ngroupsMax)
	}
	optlen := uint32(4 * len(buf))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&optlen)), 0)
	if errno != 0 {
		return optlen, os.NewSyscallError("getsockopt SO_PEERGROUPS", errno)
	}
	return optlen, nil
}
