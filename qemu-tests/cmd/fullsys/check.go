package main

import (
	"context"
	"strings"
	"time"
)

// checkScenario: `ramwipe check` on the real system. Armed, it must find
// kexec ready; a plain swap file on the (unencrypted) root must make it
// fail with exit 2 and name the file; the same swap file on the LUKS data
// volume must pass the swap check. It reads only, so the guest keeps
// running; the swap files are switched off and removed again.
func checkScenario(ctx context.Context, r *Record, e *env) {
	g := e.armedGuest(ctx, r)
	if g == nil {
		return
	}
	defer g.vm.Close("")

	// check runs ramwipe check and returns its output and exit code.
	check := func() (string, int, bool) {
		out, rc, err := g.sh(ctx, "ramwipe check", time.Minute)
		if err != nil || rc < 0 || rc > 2 {
			r.fail("ramwipe check: exit %d %v\n%s", rc, err, indent(out))
			return out, rc, false
		}
		return out, rc, true
	}
	out, _, ok := check()
	if !ok {
		return
	}
	if l := findingLine(out, "kexec", ""); !strings.HasPrefix(l, "OK") {
		r.fail("armed, but ramwipe check says about kexec: %q\n%s", l, indent(out))
	} else {
		r.check("check-kexec", l)
	}
	if _, rc, _ := g.sh(ctx, `ramwipe check --json | grep -q '^  "worst": '`, time.Minute); rc != 0 {
		r.fail("ramwipe check --json printed no JSON report")
	}

	const plain = "/root/ramwipe-lab-plain.swap"
	if _, ok := g.must(ctx, r, "dd if=/dev/zero of="+plain+" bs=1M count=32 status=none && chmod 600 "+plain+" && mkswap -q "+plain+" && swapon "+plain, 2*time.Minute); !ok {
		return
	}
	out, rc, ok := check()
	g.sh(ctx, "swapoff "+plain+"; rm -f "+plain, time.Minute)
	if !ok {
		return
	}
	line := findingLine(out, "swap", plain)
	switch {
	case rc != 2:
		r.fail("a plain swap file on /root: ramwipe check exit %d, want 2\n%s", rc, indent(out))
	case !strings.HasPrefix(line, "FAIL") || !strings.Contains(line, "is not encrypted"):
		r.fail("a plain swap file on /root: no FAIL naming %s\n%s", plain, indent(out))
	default:
		r.check("check-plain-swap", line)
	}

	if !g.setup(ctx, r) {
		return
	}
	const enc = "/data/ramwipe-lab.swap"
	if _, ok := g.must(ctx, r, "dd if=/dev/zero of="+enc+" bs=1M count=32 status=none && chmod 600 "+enc+" && mkswap -q "+enc+" && swapon "+enc, 2*time.Minute); !ok {
		return
	}
	out, _, ok = check()
	g.sh(ctx, "swapoff "+enc+"; rm -f "+enc, time.Minute)
	if !ok {
		return
	}
	if line := findingLine(out, "swap", enc); !strings.HasPrefix(line, "OK") || !strings.Contains(line, "is encrypted") {
		r.fail("a swap file on the LUKS volume: want an OK swap finding naming %s\n%s", enc, indent(out))
	} else {
		r.check("check-encrypted-swap", line)
	}
}

// findingLine returns the first line of ramwipe check's text output that
// is a finding of check ("SEVERITY  check  what") containing text.
func findingLine(out, check, text string) string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 2 && f[1] == check && strings.Contains(l, text) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
