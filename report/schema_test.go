package report_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pysmoke/pysmoke/outcome"
	"github.com/pysmoke/pysmoke/report"
	"github.com/pysmoke/pysmoke/store"
)

// The project JSON the server answers is valid against the schema file
// written by hand from SCHEMA.md (report/project.schema.json), checked by
// a JSON Schema validator: every project of the standard store, and one
// with a change, a history, a confirmation and dependencies.
func TestProjectJSONMatchesSchemaFile(t *testing.T) {
	f, err := os.Open("project.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("project.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("project.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(what, body string) error {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
		if err != nil {
			return err
		}
		return sch.Validate(v)
	}

	s := standard(t)
	addClaimer(t, s) // claims, with mismatches
	ctx := t.Context()
	// foo 1.1 on 3.12: a failure being confirmed, with its history.
	if err := s.SetConfirmation(ctx, "foo", "1.1", "3.12", store.Confirmation{State: store.Confirming, Runs: 1, Of: 3}); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, s, report.Options{BaseURL: base})
	projects, _ := s.Projects(ctx)
	for _, p := range projects {
		r := get(t, srv.URL+"/api/v1/project/"+p+".json")
		if r.code != 200 {
			t.Fatalf("%s: %d", p, r.code)
		}
		if err := validate(p, r.body); err != nil {
			t.Errorf("%s: %v\n%s", p, err, r.body)
		}
		if p == "foo" && (!strings.Contains(r.body, `"confirmation"`) || !strings.Contains(r.body, `"change"`) || !strings.Contains(r.body, `"dependencies"`)) {
			t.Errorf("foo's document lacks what the test means to validate:\n%s", r.body)
		}
	}

	// The validator refuses what the schema does not say: a field it
	// does not know, a status it does not list.
	good := get(t, srv.URL+"/api/v1/project/foo.json").body
	var m map[string]any
	json.Unmarshal([]byte(good), &m)
	m["extra"] = 1
	extra, _ := json.Marshal(m)
	for what, body := range map[string]string{
		"an unknown field":  string(extra),
		"an unknown status": regexp.MustCompile(`"status":\s*"`+string(outcome.Passed)+`"`).ReplaceAllString(good, `"status": "sort-of"`),
		"a bad schema name": strings.Replace(good, "pysmoke.project/v1", "pysmoke.project/v2", 1),
	} {
		if body == good {
			t.Fatalf("%s: the document did not change", what)
		}
		if err := validate(what, body); err == nil {
			t.Errorf("%s: valid", what)
		}
	}
}
