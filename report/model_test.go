package report

import (
	"testing"

	"github.com/pysmoke/pysmoke/store"
)

func TestCompact(t *testing.T) {
	var pys []store.Python
	for _, p := range []string{"2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"} {
		pys = append(pys, store.Python{Python: p})
	}
	tests := []struct {
		some []string
		want string
	}{
		{nil, ""},
		{[]string{"3.12"}, "3.12"},
		{[]string{"3.12", "3.13"}, "3.12, 3.13"},
		{[]string{"3.11", "3.12", "3.13"}, "3.11-3.13"},
		{[]string{"2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"}, "2.7-3.13"},
		{[]string{"2.7", "3.6", "3.8", "3.9", "3.10", "3.13"}, "2.7, 3.6, 3.8-3.10, 3.13"},
	}
	for _, tc := range tests {
		if got := compact(pys, tc.some); got != tc.want {
			t.Errorf("compact(%q) = %q, want %q", tc.some, got, tc.want)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[string]string{
		"passed": "pass", "failed": "fail", "rejected": "fail", "resource-limit": "warn", "no-tests": "warn",
		"not-available": "grey", "machinery-error": "grey", "pending": "pending", "from-the-future": "grey",
	} {
		if got := statusClass(status); got != want {
			t.Errorf("statusClass(%q) = %q, want %q", status, got, want)
		}
	}
}
