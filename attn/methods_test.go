package attn

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the methods' table of docs/methods.md and testdata/methods.json from the table in methods.go")

// The table is indexed by Method, names are unique lower-case flag
// spellings, and each property is one the policy can execute.
func TestMethodTable(t *testing.T) {
	seen := map[string]bool{}
	for i, s := range methods {
		if s.Method != Method(i) || s.Name != strings.ToLower(s.Name) || seen[s.Name] || s.Name == "" || s.Doc == "" || s.Params == "" {
			t.Errorf("entry %d: %+v", i, s)
		}
		seen[s.Name] = true
		if (s.Mask == Local) != (s.Sinks > 0) {
			t.Errorf("%s: %d sinks with mask %d (sinks belong to a Local mask)", s.Name, s.Sinks, s.Mask)
		}
		if m, err := ParseMethod(strings.ToUpper(s.Name)); err != nil || m != s.Method || m.String() != s.Name {
			t.Errorf("%s: parsed as %v, %v", s.Name, m, err)
		}
		p := Policy{Method: s.Method, TrainLen: 16, KeySize: 8}.WithDefaults()
		if err := p.Validate(); err != nil || p.Rotates() != (s.Rotation != NoRotation) || p.Masked() != (s.Mask != KeepAll) || p.HasBias() != s.Bias {
			t.Errorf("%s: policy %+v disagrees with the table (%v)", s.Name, p, err)
		}
		if _, far := p.FarWindow(); far != (s.Far != NoFar) {
			t.Errorf("%s: far window %v, table %d", s.Name, far, s.Far)
		}
	}
	if !slices.Equal(MethodNames(), []string{"rope", "pi", "ntk", "yarn", "pose", "alibi", "streamingllm", "lminfinite", "rerope", "window"}) {
		t.Errorf("names %v", MethodNames())
	}
	var suite []string
	for _, m := range SuiteMethods() {
		suite = append(suite, fmt.Sprintf("%s:%v", m.Name, m.FineTuned))
	}
	if got := strings.Join(suite, ","); got != "rope:false,pi:false,pi-ft:true,ntk:false,yarn:false,pose:true,alibi:true,streamingllm:false,lminfinite:false,rerope:false,window:false" {
		t.Errorf("suite methods %s", got)
	}
}

// docs/methods.md's table of the positional methods is generated from the
// table (go test ./attn -run TestMethodsDoc -update rewrites it).
func TestMethodsDoc(t *testing.T) {
	const begin, end = "<!-- methods table: generated from attn/methods.go", "<!-- end of the methods table -->"
	path := "../docs/methods.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated methods table (between %q and %q)", path, begin, end)
	}
	i += strings.Index(text[i:], "\n") + 1
	want := methodsMarkdown()
	if text[i:j] == want {
		return
	}
	if !*update {
		t.Fatalf("%s's methods table is not attn/methods.go's; run go test ./attn -run TestMethodsDoc -update. Want:\n%s", path, want)
	}
	if err := os.WriteFile(path, []byte(text[:i]+want+text[j:]), 0o644); err != nil {
		t.Fatal(err)
	}
}

// methodsMarkdown is the methods' table of docs/methods.md.
func methodsMarkdown() string {
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	var sb strings.Builder
	sb.WriteString("| `-method` | what it does | parameters (default) | in the suite |\n|---|---|---|---|\n")
	for _, s := range methods {
		suite := map[SuiteUse]string{TrainingFree: "training-free", FineTuned: "fine-tuned",
			FineTunedAndTrainingFree: fmt.Sprintf("both: `%s` (training-free) and `%s-ft` (fine-tuned)", s.Name, s.Name)}[s.Suite]
		fmt.Fprintf(&sb, "| `%s` | %s | %s | %s |\n", s.Name, cell(s.Doc), cell(s.Params), suite)
	}
	return sb.String()
}

// methodJSON is one method in testdata/methods.json, the table as the
// PyTorch reference (scripts/torch_reference.py) reads it.
type methodJSON struct {
	Name          string `json:"name"`
	Rotation      string `json:"rotation"`
	Mask          string `json:"mask"`
	Sinks         int    `json:"sinks"`
	Far           string `json:"far"`
	Bias          bool   `json:"bias"`
	Target        bool   `json:"target"`
	SkipPositions bool   `json:"skip_positions"`
}

// testdata/methods.json is the table's export (go test ./attn -run
// TestMethodsJSON -update rewrites it).
func TestMethodsJSON(t *testing.T) {
	var ms []methodJSON
	for _, s := range methods {
		ms = append(ms, methodJSON{Name: s.Name,
			Rotation: [...]string{"none", "rope", "interpolated", "ntk", "yarn"}[s.Rotation],
			Mask:     [...]string{"all", "local", "windowed"}[s.Mask], Sinks: s.Sinks,
			Far:  [...]string{"none", "rerope_window", "train_length"}[s.Far],
			Bias: s.Bias, Target: s.Target, SkipPositions: s.SkipPositions})
	}
	want, err := json.MarshalIndent(map[string]any{"generator": "go test ./attn -run TestMethodsJSON -update (from attn/methods.go)", "methods": ms}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	path := "../testdata/methods.json"
	got, err := os.ReadFile(path)
	if err == nil && bytes.Equal(got, want) {
		return
	}
	if !*update {
		t.Fatalf("%s is not attn/methods.go's table (%v); run go test ./attn -run TestMethodsJSON -update", path, err)
	}
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
}
