package lab

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// WriteTable prints one line per record, for people.
func WriteTable(w io.Writer, recs []Record) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\texpect\tpre found\tpost canary pages\tcanary cells\told pages\tfill MiB\tkexec→off s\tverdict\t")
	for _, r := range recs {
		pre, post, cells, old := "-", "-", "-", "-"
		if r.Pre != nil {
			pre = fmt.Sprintf("%.1f%%", 100*r.Pre.FoundFraction)
		}
		if r.Post != nil {
			post = fmt.Sprintf("%d (%.1f%%)", r.Post.CanaryExact+r.Post.CanaryPartial, 100*r.Post.FoundFraction)
			cells = fmt.Sprint(r.Post.CanaryCells)
			old = fmt.Sprint(r.Post.OldPages)
		}
		verdict := "PASS"
		if !r.Pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.1f\t%s\t\n", r.Name, r.Expect, pre, post, cells, old, r.FillMiB, r.Timings.KexecToOff, verdict)
	}
	tw.Flush()
}

// WriteFailure repeats a failed scenario's failures and the end of its
// console log at the end of a run, where a CI log that keeps only its
// tail still shows why.
func WriteFailure(w io.Writer, r Result, console string) {
	fmt.Fprintf(w, "\n%s failed:\n", r.Name)
	for _, f := range r.Failures {
		fmt.Fprintf(w, "    %s\n", f)
	}
	b, err := os.ReadFile(console)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	fmt.Fprintf(w, "  last console lines (%s):\n", console)
	for _, l := range lines[max(0, len(lines)-consoleTail):] {
		fmt.Fprintf(w, "    | %s\n", l)
	}
}

// consoleTail is how many console lines WriteFailure repeats.
const consoleTail = 40
