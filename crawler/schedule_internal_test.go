package crawler

import (
	"testing"
	"time"
)

func TestSlotsAreSpreadAndStable(t *testing.T) {
	s := &schedule{interval: time.Hour}
	now := time.Date(2026, 8, 21, 16, 57, 37, 0, time.UTC)
	perMinute := make([]int, 60)
	for i := range 6000 {
		name := "project-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		next := s.slotAfter(name, now)
		if !next.After(now) || next.Sub(now) > time.Hour {
			t.Fatalf("%s: slot %v not within the next interval", name, next)
		}
		if again := s.slotAfter(name, next); again.Sub(next) != time.Hour {
			t.Fatalf("%s: the next slot is %v later, want an interval", name, again.Sub(next))
		}
		perMinute[int(next.Sub(now)/time.Minute)%60]++
	}
	for m, n := range perMinute {
		if n < 50 || n > 150 { // 100 expected
			t.Errorf("minute %d has %d of 6000 slots: not spread", m, n)
		}
	}
}
