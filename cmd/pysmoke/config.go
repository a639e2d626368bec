package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The settings of the long-running commands (serve, worker) come from
// three places: a TOML file (--config, or PYSMOKE_CONFIG), the
// environment, and the command line. Each setting is a flag: its TOML key
// is the flag's name, its variable PYSMOKE_ and the name in capitals with
// "-" as "_". A flag given wins over the environment, which wins over the
// file, which wins over the default.

const configHelp = `
Every flag is also a setting of the config file (--config FILE or
PYSMOKE_CONFIG: TOML, the flag's name as the key, e.g. workers = 4,
step-timeout = "20m") and of the environment (PYSMOKE_ and the name in
capitals, "-" as "_", e.g. PYSMOKE_STEP_TIMEOUT=20m). A flag given wins
over the environment, which wins over the file.`

// envName is a setting's environment variable.
func envName(flagName string) string {
	return "PYSMOKE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseSettings parses args with fs (which has a --config flag added
// here), then fills each flag not given from the environment, then from
// the config file. A bad value says where it came from.
func parseSettings(fs *flag.FlagSet, args []string) error {
	configPath := fs.String("config", "", "TOML file of settings (default PYSMOKE_CONFIG); see below")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] || f.Name == "config" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, serr)
			}
			given[f.Name] = true
		}
	})
	if err != nil {
		return err
	}
	path := *configPath
	if path == "" {
		path = os.Getenv("PYSMOKE_CONFIG")
	}
	if path == "" {
		return nil
	}
	settings, err := readConfig(path, fs)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(settings))
	for name := range settings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if given[name] {
			continue
		}
		if err := fs.Set(name, settings[name]); err != nil {
			return fmt.Errorf("config %s: %s = %q: %w", path, name, settings[name], err)
		}
	}
	return nil
}

// readConfig reads a config file into each setting's value as a flag
// would take it. A key that is no flag of the command, a table, or a
// value of a type no flag takes is an error naming it.
func readConfig(path string, fs *flag.FlagSet) (map[string]string, error) {
	var raw map[string]any
	md, err := toml.DecodeFile(path, &raw)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("config %s: line %d: %s", path, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	out := map[string]string{}
	for _, key := range md.Keys() {
		name := key.String()
		v, ok := raw[name]
		if _, table := v.(map[string]any); len(key) != 1 || !ok || table {
			return nil, fmt.Errorf("config %s: %q: settings are top-level keys, not tables", path, name)
		}
		if name == "config" || fs.Lookup(name) == nil {
			return nil, fmt.Errorf("config %s: %q is not a setting of pysmoke %s (its flags are its settings; -h lists them)", path, name, fs.Name())
		}
		switch v := v.(type) {
		case string:
			out[name] = v
		case int64, bool, float64:
			out[name] = fmt.Sprint(v)
		case time.Duration:
			out[name] = v.String()
		default:
			return nil, fmt.Errorf("config %s: %s: a %T, not a string, number or boolean", path, name, v)
		}
	}
	return out, nil
}
