package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/dsar-project/dsar/internal/temporalclient"
)

// historyKey is the secret the end-to-end tests (internal/e2e) encrypt
// payloads with when they record testdata/*.json
// (DSAR_RECORD_HISTORIES=1 go test ./internal/e2e).
const historyKey = "e2e-secret-key-that-is-long-enough-0123456789"

// TestReplayRecordedHistories replays histories of real runs against the
// current workflow code. A change that would break requests already in
// flight fails here; put it behind workflow.GetVersion and record a new
// history beside the old ones.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata")
	}
	codec, err := temporalclient.NewCodec(historyKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: codec.DataConverter()})
			if err != nil {
				t.Fatal(err)
			}
			r.RegisterWorkflow(SubjectRequest)
			r.RegisterWorkflow(Breach)
			r.RegisterWorkflow(RetentionPurge)
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replaying %s: %v", file, err)
			}
		})
	}
}
