package service

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/pysmoke/pysmoke/artifacts"
	"github.com/pysmoke/pysmoke/report"
)

// Export writes the reports of the service whose data folder is dataDir
// (and database, if not the folder's SQLite file) as a static site under
// out (report.Handler.Export), its links relative to baseURL's path (""
// for the root). The service need not be stopped: the store is read as
// it stands.
func Export(ctx context.Context, dataDir, database, out, baseURL string, progress func(done, known int)) (report.ExportStats, error) {
	st, err := openExisting(ctx, dataDir, database)
	if err != nil {
		return report.ExportStats{}, err
	}
	defer st.Close()
	arts, err := artifacts.Open(filepath.Join(dataDir, "artifacts"))
	if err != nil {
		return report.ExportStats{}, err
	}
	h := report.New(st, report.Options{BaseURL: baseURL, Runs: st, Artifacts: arts, Static: true, Actions: st, Recent: st,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return h.Export(ctx, out, progress)
}
