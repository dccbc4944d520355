package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// restartVariant is a Restart= setting the sigkill scenario measures the
// blind window with: the package's unit as installed, or a drop-in over it.
type restartVariant struct {
	name    string
	signal  string        // what kill sends: KILL, or TERM (a clean stop for Restart=on-failure)
	dropIn  string        // the [Service] lines of the drop-in; "" is the unit as installed
	timeout time.Duration // how long to wait for ramwiped to be armed again
}

var restartVariants = []restartVariant{
	{"unit", "KILL", "", 60 * time.Second},
	// The unit before Restart=always: main's settings.
	{"on-failure-1s", "KILL", "Restart=on-failure\nRestartSec=1s", 60 * time.Second},
	// No Restart= at all: nothing brings it back but a start or a boot.
	{"no-restart", "KILL", "Restart=no", 15 * time.Second},
	// SIGTERM from anyone but systemd: ramwiped disarms and exits 0, which
	// Restart=on-failure takes for a clean stop.
	{"sigterm-unit", "TERM", "", 60 * time.Second},
	{"sigterm-on-failure-1s", "TERM", "Restart=on-failure\nRestartSec=1s", 15 * time.Second},
}

const dropInDir = "/run/systemd/system/ramwiped.service.d"

// sigkill: ramwiped killed with SIGKILL on an armed system. On the guest's
// clock, how long until it is armed again (the blind window: no trigger is
// seen meanwhile), with the package's unit and, for comparison, with the
// restart settings of the unit before (Restart=on-failure, RestartSec=1s)
// and with none; the same for SIGTERM sent by someone else than systemd
// (ramwiped disarms and exits 0, a clean stop to Restart=on-failure); then a systemctl poweroff issued inside the blind window:
// the shutdown hook still wipes, with the image ramwiped staged in /run
// before it was killed.
func sigkill(ctx context.Context, r *Record, e *env) {
	g := e.armedGuest(ctx, r)
	if g == nil {
		return
	}
	defer g.vm.Close("")
	out, _, _ := g.sh(ctx, "systemctl show -p Restart -p RestartUSec ramwiped | tr '\\n' ' '; systemd-analyze verify ramwiped.service 2>&1 | grep -v 'man '; echo", time.Minute)
	r.check("unit", strings.TrimSpace(out))
	for _, v := range restartVariants {
		if !g.blindWindow(ctx, r, v) {
			return
		}
	}

	// A poweroff inside the blind window: kill, see that status fails,
	// power off at once.
	g.wipeBy(ctx, r, e, "poweroff_in_blind_window", nil, func() error {
		return g.vm.Send(`pid=$(systemctl show -p MainPID --value ramwiped); kill -9 $pid; t0=$(date +%s.%N); timeout 5 ramwipe status >/dev/null 2>&1; rc=$?; t1=$(date +%s.%N); echo "LAB BLIND killed $pid, status exit $rc $(echo "$t1 - $t0" | awk '{printf "%.3f", $1 - $3}') s after the kill, kexec_loaded $(cat /sys/kernel/kexec_loaded), staged: $(ls /run/ramwipe/shutdown | tr '\n' ' ')"; systemctl poweroff`)
	})
	for _, l := range g.vm.Lines() {
		if i := strings.Index(l.Text, "LAB BLIND "); i >= 0 {
			r.check("poweroff_in_blind_window", l.Text[i+len("LAB BLIND "):])
			if strings.Contains(l.Text, "status exit 0 ") {
				r.fail("the poweroff was not inside the blind window: ramwipe status answered armed first")
			}
		}
		if i := strings.Index(l.Text, "ramwipe: wiping memory, then "); i >= 0 {
			r.check("hook", l.Text[i:])
		}
	}
	if r.Checks["poweroff_in_blind_window"] == "" {
		r.fail("the guest never said where in the blind window it powered off")
	}
}

// blindWindow kills ramwiped's main process with SIGKILL and measures, on
// the guest's clock, until systemd has started it again, until it logged
// "state armed", and until ramwipe status exits 0. The variant's drop-in,
// if any, is in place only for this measurement.
func (g *guest) blindWindow(ctx context.Context, r *Record, v restartVariant) bool {
	if v.dropIn != "" {
		if _, ok := g.must(ctx, r, fmt.Sprintf("mkdir -p %s && printf '[Service]\\n%s\\n' > %s/lab.conf && systemctl daemon-reload && systemctl show -p Restart -p RestartUSec ramwiped | tr '\\n' ' '; echo", dropInDir, strings.ReplaceAll(v.dropIn, "\n", "\\n"), dropInDir), time.Minute); !ok {
			return false
		}
	}
	limit := int(v.timeout / time.Second)
	line := fmt.Sprintf(`pid=$(systemctl show -p MainPID --value ramwiped); t0=$(date +%%s.%%N); kill -%s $pid; k0=$(cat /sys/kernel/kexec_loaded); s0=$(ls /run/ramwipe/shutdown 2>/dev/null | wc -l); n=0; until timeout 5 ramwipe status >/dev/null 2>&1; do n=$((n+1)); [ $(date +%%s) -ge $(( ${t0%%.*} + %d )) ] && break; sleep 0.05; done; t1=$(date +%%s.%%N); echo "BLIND t0=$t0 t1=$t1 polls=$n kexec_loaded_after_kill=$k0 staged_files=$s0 kexec_loaded_end=$(cat /sys/kernel/kexec_loaded) staged_files_end=$(ls /run/ramwipe/shutdown 2>/dev/null | wc -l) active=$(systemctl is-active ramwiped) pid=$(systemctl show -p MainPID --value ramwiped)"; journalctl -o short-unix --no-pager -u ramwiped --since @${t0%%.*} | head -n 40`, v.signal, limit)
	out, _, err := g.sh(ctx, line, v.timeout+time.Minute)
	if err != nil {
		r.fail("sigkill %s: %v\n%s", v.name, err, indent(out))
		return false
	}
	var t0, t1 float64
	var summary string
	stamps := map[string]float64{}
	for _, l := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(l, "BLIND "); ok {
			summary = s
			for _, f := range strings.Fields(s) {
				k, val, _ := strings.Cut(f, "=")
				switch k {
				case "t0":
					t0, _ = strconv.ParseFloat(val, 64)
				case "t1":
					t1, _ = strconv.ParseFloat(val, 64)
				}
			}
			continue
		}
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		at, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		for _, ev := range []struct{ name, text string }{
			{"starting", "Starting "},
			{"restarted", "Started "},
			{"armed_logged", "state armed"},
		} {
			if _, seen := stamps[ev.name]; !seen && strings.Contains(l, ev.text) && at >= t0 {
				stamps[ev.name] = at
			}
		}
	}
	if t0 == 0 {
		r.fail("sigkill %s: no measurement:\n%s", v.name, indent(out))
		return false
	}
	armed := strings.Contains(summary, "active=active") && t1-t0 < v.timeout.Seconds()
	desc := summary
	for _, k := range []string{"starting", "armed_logged", "restarted"} {
		if at, ok := stamps[k]; ok {
			r.time("blind_"+v.name+"_"+k, time.Duration((at-t0)*float64(time.Second)))
			desc += fmt.Sprintf("; %s %.3f s after the kill", k, at-t0)
		}
	}
	if armed {
		r.time("blind_"+v.name+"_status_ok", time.Duration((t1-t0)*float64(time.Second)))
		desc += fmt.Sprintf("; ramwipe status armed %.3f s after the kill", t1-t0)
	} else {
		desc += fmt.Sprintf("; NOT armed %.0f s after the kill", t1-t0)
	}
	r.check("blind_"+v.name, desc)
	switch {
	case v.dropIn == "" && !armed:
		r.fail("sigkill: the package's unit did not bring ramwiped back armed within %v:\n%s", v.timeout, indent(out))
		return false
	case v.dropIn != "":
		// Back to the package's unit, armed again for what follows.
		if _, ok := g.must(ctx, r, "rm -rf "+dropInDir+" && systemctl daemon-reload && systemctl reset-failed ramwiped; systemctl start ramwiped", 2*time.Minute); !ok {
			return false
		}
		return g.waitArmed(ctx, r, "rearmed_after_"+v.name, time.Now())
	}
	return true
}
