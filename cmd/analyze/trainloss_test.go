package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeMetrics(t *testing.T, dir string, lines ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "best"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTrainLossEndToEnd(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	writeMetrics(t, a, `{"step":10,"epoch":0.1,"loss":5,"elapsed_seconds":1}`, `{"step":20,"epoch":0.2,"loss":4,"elapsed_seconds":2}`,
		`{"step":20,"epoch":0.2,"val_loss":4.5,"val_accuracy":0.1,"elapsed_seconds":2}`)
	writeMetrics(t, b, `{"step":10,"epoch":0.1,"loss":6,"elapsed_seconds":1}`)
	out := t.TempDir()
	stdout, _, err := runAnalyze("trainloss", "-runs", "pi:cos0="+a+"/best,pi:cos128="+b, "-name", "fig3", "-out", out, "-dpi", "40", "-quiet")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, filepath.Join(out, "fig3.png")) {
		t.Errorf("output:\n%s", stdout)
	}
	checkPNG(t, filepath.Join(out, "fig3.png"), 268, 136) // one 6.7×3.4 in panel with its legend beside the axes, at 40 dpi
	h, rows := readCSV(t, filepath.Join(out, "fig3.csv"))
	if strings.Join(h, ",") != "panel,run,dir,step,epoch,train_loss,val_loss" || len(rows) != 4 {
		t.Fatalf("csv %v %v", h, rows)
	}
	if rows[2][1] != "cos0" || rows[2][6] != "4.5" || rows[3][1] != "cos128" || rows[3][5] != "6" {
		t.Errorf("rows %v", rows)
	}
	for _, bad := range [][]string{{"-runs", ""}, {"-runs", "noequals"}, {"-runs", "x=" + filepath.Join(dir, "none")}, {"-runs", "x=" + a, "-smooth", "0"}} {
		if _, _, err := runAnalyze(append(append([]string{"trainloss"}, bad...), "-out", out, "-quiet")...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
