package obs

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, "json", slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.Info("shown", "k", "v")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("json output %q: %v", buf.String(), err)
	}
	if m["msg"] != "shown" || m["k"] != "v" || m["level"] != "INFO" {
		t.Errorf("json record %v", m)
	}

	buf.Reset()
	log, err = NewLogger(&buf, "text", slog.LevelWarn)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", "v w")
	if got := buf.String(); !strings.Contains(got, `level=WARN msg=shown k="v w"`) || strings.Contains(got, "hidden") {
		t.Errorf("text output %q", got)
	}

	for _, f := range []string{"", "JSON", "logfmt"} {
		_, err := NewLogger(&buf, f, slog.LevelInfo)
		if err == nil || !strings.Contains(err.Error(), "text or json") || !strings.Contains(err.Error(), `"`+f+`"`) {
			t.Errorf("format %q: error %v", f, err)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, " warn ": slog.LevelWarn, "error": slog.LevelError, "info+2": slog.LevelInfo + 2} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil || !strings.Contains(err.Error(), "debug, info, warn or error") {
		t.Errorf("ParseLevel(loud): %v", err)
	}
}
