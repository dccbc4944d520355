package readiness

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for people: one finding a line, worst
// first, its severity and check in columns, "do:" on the next line.
func (r *Report) WriteText(w io.Writer) error {
	byWorst := make([]Finding, len(r.Findings))
	copy(byWorst, r.Findings)
	// Stable: within a severity, the checks' order.
	for i := 1; i < len(byWorst); i++ {
		for j := i; j > 0 && byWorst[j].Severity > byWorst[j-1].Severity; j-- {
			byWorst[j], byWorst[j-1] = byWorst[j-1], byWorst[j]
		}
	}
	const indent = "                         " // "FAIL  " + check column
	var b strings.Builder
	for _, f := range byWorst {
		fmt.Fprintf(&b, "%-4s  %-17s  %s\n", strings.ToUpper(f.Severity.String()), f.Check, f.What)
		if f.Do != "" {
			fmt.Fprintf(&b, "%sdo: %s\n", indent, f.Do)
		}
	}
	fmt.Fprintf(&b, "\nworst: %s\n", strings.ToUpper(r.Worst().String()))
	_, err := io.WriteString(w, b.String())
	return err
}
