package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// PostgresEnv names the variable that gives the tests a Postgres server to
// create their databases on (a connection URL to any database of it, as a
// role that may create databases). Unset, the tests try Debian's local
// server over its socket as the user running them (.ci/run makes root a
// superuser of it).
const PostgresEnv = "PYSMOKE_TEST_POSTGRES"

func postgresAdminURL() string {
	if u := os.Getenv(PostgresEnv); u != "" {
		return u
	}
	return "postgres:///postgres?host=/var/run/postgresql"
}

// Postgres creates a database of its own for the test on the Postgres
// server of PYSMOKE_TEST_POSTGRES, dropped when the test ends (with the
// connections still open to it), and returns its URL. Without a server
// that answers, the test skips (fails in CI).
func Postgres(t testing.TB) string {
	t.Helper()
	admin := postgresAdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		Require(t, "Postgres (set "+PostgresEnv+")", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "pysmoke_test_" + hex.EncodeToString(b[:])
	// A byte-ordered collation, as pysmoke's own columns have: the server's
	// locale then matters for nothing the tests see.
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`); err != nil {
		db.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	u.Path = "/" + name
	return u.String()
}

// PostgresAdmin runs query on the server of PYSMOKE_TEST_POSTGRES as the
// role that creates the tests' databases (to take one away from its
// users, say).
func PostgresAdmin(t testing.TB, query string) {
	t.Helper()
	db, err := sql.Open("pgx", postgresAdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
