package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/pysmoke/pysmoke/localindex"
)

const indexSynopsis = `Usage: pysmoke index [flags]

Serves a folder of sdists and wheels as a PyPI-compatible index: the simple
API (HTML and JSON) at /simple/, the JSON API at /pypi/NAME/json, the RSS
feeds at /rss/, and the files with their SHA-256. Files dropped into the
folder while it runs appear as new releases. For tests and the demo: point
"pysmoke serve --index" at it.

With --files-listen the files are served from a second address, as pypi.org
serves them from files.pythonhosted.org. With --static-mirror the index
behaves as a static mirror (bandersnatch behind a web server): HTML simple
pages only, relative file links, no JSON API, no feeds.`

func cmdIndex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index", indexSynopsis, stderr)
	dir := fs.String("dir", "index", "folder of sdists and wheels to serve")
	listen := fs.String("listen", "127.0.0.1:8081", "address to serve on")
	baseURL := fs.String("base-url", "", "public URL of the index (default http://LISTEN)")
	filesListen := fs.String("files-listen", "", "serve the files from this second address (default: from --listen)")
	filesURL := fs.String("files-base-url", "", "public URL of the files address (default http://FILES-LISTEN)")
	static := fs.Bool("static-mirror", false, "behave as a static mirror: HTML simple pages only, relative file links, no JSON API or feeds")
	rescan := fs.Duration("rescan", time.Second, "how often the folder is checked for new files")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text (key=value) or json (one object a line)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	if *baseURL == "" {
		*baseURL = "http://" + *listen
	}
	if *filesListen != "" && *filesURL == "" {
		*filesURL = "http://" + *filesListen
	}
	if *filesURL != "" && *filesListen == "" {
		return fmt.Errorf("--files-base-url needs --files-listen")
	}
	ix, err := localindex.New(*dir, localindex.Options{BaseURL: *baseURL, FilesBaseURL: *filesURL, StaticMirror: *static})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	servers := []*http.Server{{Handler: ix.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	listeners := []net.Listener{ln}
	if *filesListen != "" {
		fln, err := net.Listen("tcp", *filesListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen: %w", err)
		}
		servers = append(servers, &http.Server{Handler: ix.FilesHandler(), ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, fln)
	}
	go ix.Watch(ctx, *rescan)
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range servers {
			srv.Shutdown(shut)
		}
	}()
	log.Info("local index serving", "url", *baseURL+"/simple/", "files", *filesURL, "static_mirror", *static, "dir", *dir)
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}

const publishSynopsis = `Usage: pysmoke index publish --dir DIR [--version V] SAMPLE_DIR...

Builds each sample project (a folder with a setup.py; its name is the
folder's name) into a deterministic sdist in the index folder DIR, where a
running "pysmoke index" picks it up as a new release.`

func cmdIndexPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("index publish", publishSynopsis, stderr)
	dir := fs.String("dir", "index", "index folder to publish into")
	version := fs.String("version", "1.0", "version to give the releases")
	wheel := fs.Bool("wheel", false, "also build a pure-Python wheel")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitError{2}
	}
	for _, src := range fs.Args() {
		name := filepath.Base(filepath.Clean(src))
		p, err := localindex.WriteSdist(*dir, src, name, *version)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, p)
		if *wheel {
			p, err := localindex.WriteWheel(*dir, src, name, *version)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, p)
		}
	}
	return nil
}
