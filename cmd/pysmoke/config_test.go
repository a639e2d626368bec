package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type settingsUnderTest struct {
	fs       *flag.FlagSet
	workers  *int
	index    *string
	timeout  *time.Duration
	noPath   *bool
	database *string
}

func newSettings() settingsUnderTest {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return settingsUnderTest{fs: fs,
		workers:  fs.Int("workers", 2, ""),
		index:    fs.String("index", "https://pypi.org/", ""),
		timeout:  fs.Duration("step-timeout", 10*time.Minute, ""),
		noPath:   fs.Bool("no-path", false, ""),
		database: databaseFlag(fs),
	}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pysmoke.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A flag given wins over the environment, the environment over the file,
// the file over the default; each kind of value reads from TOML.
func TestSettingsPrecedence(t *testing.T) {
	cfg := writeConfig(t, `
workers = 7
index = "http://file.example/"
step-timeout = "20m"
no-path = true
database = "postgres://u:p@db.example/pysmoke"
`)
	t.Setenv("PYSMOKE_INDEX", "http://env.example/")
	t.Setenv("PYSMOKE_WORKERS", "5")
	s := newSettings()
	if err := parseSettings(s.fs, []string{"--config", cfg, "--workers", "3"}); err != nil {
		t.Fatal(err)
	}
	if *s.workers != 3 || *s.index != "http://env.example/" || *s.timeout != 20*time.Minute || !*s.noPath ||
		*s.database != "postgres://u:p@db.example/pysmoke" {
		t.Errorf("workers %d (flag: 3), index %s (env), step-timeout %s (file: 20m), no-path %v (file), database %s (file)",
			*s.workers, *s.index, *s.timeout, *s.noPath, *s.database)
	}
	// PYSMOKE_CONFIG names the file; nothing given: the defaults.
	t.Setenv("PYSMOKE_CONFIG", cfg)
	s = newSettings()
	if err := parseSettings(s.fs, nil); err != nil {
		t.Fatal(err)
	}
	if *s.workers != 5 || *s.timeout != 20*time.Minute {
		t.Errorf("with PYSMOKE_CONFIG: workers %d, step-timeout %s", *s.workers, *s.timeout)
	}
	os.Unsetenv("PYSMOKE_CONFIG")
	os.Unsetenv("PYSMOKE_WORKERS")
	os.Unsetenv("PYSMOKE_INDEX")
	s = newSettings()
	if err := parseSettings(s.fs, nil); err != nil {
		t.Fatal(err)
	}
	if *s.workers != 2 || *s.index != "https://pypi.org/" || *s.database != "" {
		t.Errorf("defaults: workers %d, index %s, database %q", *s.workers, *s.index, *s.database)
	}
}

// What cannot be a setting is refused, saying where it came from.
func TestSettingsErrors(t *testing.T) {
	for _, c := range []struct{ name, file, env, want string }{
		{"unknown key", "wokers = 3\n", "", `"wokers" is not a setting of pysmoke serve`},
		{"a table", "[serve]\nworkers = 3\n", "", "settings are top-level keys"},
		{"bad value in the file", "workers = \"many\"\n", "", `workers = "many"`},
		{"not TOML", "workers = = 3\n", "", "line 1"},
		{"an array", "workers = [1, 2]\n", "", "workers: a []interface {}"},
		{"bad value in the environment", "", "PYSMOKE_STEP_TIMEOUT=soon", `PYSMOKE_STEP_TIMEOUT="soon"`},
		{"config itself in the file", "config = \"other.toml\"\n", "", `"config" is not a setting`},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{}
			if c.file != "" {
				args = append(args, "--config", writeConfig(t, c.file))
			}
			if c.env != "" {
				k, v, _ := strings.Cut(c.env, "=")
				t.Setenv(k, v)
			}
			err := parseSettings(newSettings().fs, args)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "none.toml")
	if err := parseSettings(newSettings().fs, []string{"--config", missing}); err == nil ||
		!strings.Contains(err.Error(), missing) {
		t.Errorf("a missing config file: %v", err)
	}
}
