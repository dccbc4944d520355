package lab

import (
	"fmt"
	"io"
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
