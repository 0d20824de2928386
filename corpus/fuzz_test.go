package corpus

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzReadJSONL(f *testing.F) {
	for _, seed := range []string{
		"",
		"\n\n",
		`{"text": "中文"}`,
		`{"id": "a", "text": "x"}` + "\r\n" + `{"text": "y", "other": [1, {"z": null}]}` + "\n",
		`{"text": ""}`,
		`{"text": " \u00a0"}`,
		`{"text": "\ud800"}`,
		`{"text": 1}`,
		`{"text": null}`,
		`{"id": 3, "text": "x"}`,
		`["text"]`,
		`null`,
		`{"text": "x"} trailing`,
		`{"text": "a` + "\xff" + `"}`,
		`{"text": "` + strings.Repeat("长", 5000) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := ReadJSONL(bytes.NewReader(data), "fuzz.jsonl")
		if err != nil {
			if docs != nil {
				t.Fatalf("ReadJSONL returned documents and the error %v", err)
			}
			return
		}
		for _, d := range docs {
			if !utf8.ValidString(d.Text) || strings.TrimSpace(d.Text) == "" {
				t.Fatalf("document %q has empty or invalid text %q", d.ID, d.Text)
			}
			if d.ID == "" {
				t.Fatalf("document with text %q has no id", d.Text)
			}
		}
	})
}
