// Command labcompare puts memory-lab reports side by side, one column group
// per report (a kernel, say bookworm's 6.1 and trixie's 6.12): for every
// scenario its verdict, the canary pages and key traces left after the
// trigger, trigger → keys erased on the guest clock and kexec → guest off.
// It writes Markdown to stdout, or to -o.
//
//	labcompare -o build/lab-kernels.md build/lab-bookworm/report.json build/lab-trixie/report.json
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/ramwipe/ramwipe/qemu-tests/lab"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "labcompare:", err)
		os.Exit(1)
	}
}

// report is what cmd/lab writes to report.json.
type report struct {
	Kernel    string       `json:"kernel"`
	Scenarios []lab.Record `json:"scenarios"`
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("labcompare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the Markdown here instead of stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return errors.New("usage: labcompare [-o FILE] REPORT.json [REPORT.json]")
	}
	var reps []report
	for _, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("%w (run make lab first)", err)
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		reps = append(reps, r)
	}
	md := markdown(reps)
	if *out == "" {
		_, err := io.WriteString(stdout, md)
		return err
	}
	if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// markdown is one row per scenario in the order the reports first name
// them; a scenario a report lacks shows "—".
func markdown(reps []report) string {
	var b strings.Builder
	var names []string
	byName := make([]map[string]lab.Record, len(reps))
	for i, r := range reps {
		byName[i] = map[string]lab.Record{}
		for _, s := range r.Scenarios {
			if _, seen := byName[i][s.Name]; !seen {
				byName[i][s.Name] = s
			}
			if !slices.Contains(names, s.Name) {
				names = append(names, s.Name)
			}
		}
	}
	b.WriteString("| scenario |")
	for _, r := range reps {
		fmt.Fprintf(&b, " %s: verdict | canary pages left | old-system pages left | key traces left | trigger → keys, ms | kexec → off, s |", r.Kernel)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|---|---|---|---|---|", len(reps)))
	b.WriteString("\n")
	for _, n := range names {
		fmt.Fprintf(&b, "| %s |", n)
		for i := range reps {
			s, ok := byName[i][n]
			if !ok {
				b.WriteString(" — | | | | | |")
				continue
			}
			fmt.Fprintf(&b, " %s | %s | %s | %s | %s | %.1f |", verdict(s), canaries(s), oldPages(s), keys(s), keysMS(s), s.Timings.KexecToOff)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func verdict(s lab.Record) string {
	if s.Pass {
		return "pass"
	}
	return "**FAIL**"
}

func canaries(s lab.Record) string {
	if s.Post == nil {
		return "—"
	}
	return fmt.Sprint(s.Post.CanaryExact + s.Post.CanaryPartial)
}

func oldPages(s lab.Record) string {
	if s.Post == nil {
		return "—"
	}
	return fmt.Sprint(s.Post.OldPages)
}

func keys(s lab.Record) string {
	if s.KeyPost == nil {
		return "—"
	}
	n := s.KeyPost.Total()
	if s.Keyring != nil {
		n += s.Keyring.Post.VolumeKey + s.Keyring.Post.Passphrase
	}
	return fmt.Sprint(n)
}

func keysMS(s lab.Record) string {
	if s.Panic == nil || s.Panic.TriggerToKeysMS == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f", s.Panic.TriggerToKeysMS)
}
