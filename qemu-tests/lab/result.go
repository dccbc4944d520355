package lab

import "fmt"

// Result is what both labs record of a scenario: its name and verdict,
// what the dumps before and after the trigger held, and the wipe image's
// report. The memory lab's [Record] and the full-system lab's record embed
// it (its fields are theirs in the JSON too) and add their own sections;
// the judgement of a wipe and of its positive control is here, once.
type Result struct {
	Name     string   `json:"name"`
	Pass     bool     `json:"pass"`
	Failures []string `json:"failures,omitempty"`
	Pre      *Scan    `json:"pre,omitempty"`
	Post     *Scan    `json:"post,omitempty"`
	KeyPre   *KeyScan `json:"key_pre,omitempty"`
	KeyPost  *KeyScan `json:"key_post,omitempty"`
	// Summary is the wipe image's "ramwipe: overwrote …" line.
	Summary string `json:"wipe_summary,omitempty"`
}

// Fail records a failure.
func (r *Result) Fail(format string, args ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, args...))
}

// Judge sets Pass: no failure was recorded.
func (r *Result) Judge() { r.Pass = len(r.Failures) == 0 }

// JudgeControl fails unless the dump before the trigger shows what the
// scenario planted (the positive control): at least 90 % of the canaries
// and, if a key was planted, its halves or raw copy and its AES schedule.
// keyPlanted says whether a scan of the key was expected.
func (r *Result) JudgeControl(keyPlanted bool) {
	switch {
	case r.Pre == nil:
		r.Fail("positive control: no dump before the trigger")
	case r.Pre.FoundFraction < 0.9:
		r.Fail("positive control: only %.1f %% of the planted canaries visible before the trigger (want ≥ 90 %%)", 100*r.Pre.FoundFraction)
	}
	if k := r.KeyPre; keyPlanted && (k == nil || k.Raw+k.Halves == 0 || k.Schedules == 0) {
		r.Fail("positive control: the volume key was not visible before the trigger (%s)", k)
	}
}

// JudgeWiped fails unless the dump after the wipe holds nothing of the
// old system: no canary page, no old-system page (beyond what the scanner
// counts apart: firmware ranges, the wipe kernel and its held-map, the
// public wipe image), no trace of the volume key, and unless the wipe
// image reported its fill on the console: a wipe that says nothing (or a
// console whose end was lost) is not taken on trust.
func (r *Result) JudgeWiped() {
	if r.Summary == "" {
		r.Fail("the wipe image never reported its fill (no \"ramwipe: overwrote …\" line on the console)")
	}
	p := r.Post
	if p == nil {
		r.Fail("no dump after the wipe")
		return
	}
	if p.CanaryCells > 0 {
		r.Fail("%d canary pages survived (%d whole, %d partial) at %v", p.CanaryExact+p.CanaryPartial, p.CanaryExact, p.CanaryPartial, p.CanaryRanges)
	}
	if p.OldPages > 0 {
		r.Fail("%d old-system pages survived at %v", p.OldPages, p.OldRanges)
	}
	if k := r.KeyPost; k != nil && k.Total() > 0 {
		r.Fail("the volume key survived: %s", k)
	}
}
