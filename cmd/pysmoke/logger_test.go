package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// --log-format json writes one JSON object a line; text writes key=value;
// anything else is refused with the choices.
func TestLogFormats(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("tested", "project", "foo", "python", "3.12")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "tested" || rec["project"] != "foo" || rec["level"] != "INFO" {
		t.Errorf("json line %q: %v %v", buf.String(), rec, err)
	}
	buf.Reset()
	log, _ = newLogger(&buf, "warn", "text")
	log.Info("hidden")
	log.Warn("shown", "project", "foo")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "msg=shown project=foo") {
		t.Errorf("text: %q", got)
	}
	if _, err := newLogger(&buf, "info", "xml"); err == nil || !strings.Contains(err.Error(), "text, json") {
		t.Errorf("a bad format: %v", err)
	}
}
