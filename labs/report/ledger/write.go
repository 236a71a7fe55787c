package ledger

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/memlab/memlab/labs/inputfile"
	"github.com/memlab/memlab/labs/report/atomicfile"
)

// WriteFiles writes claims.json and claims.md into dir, each atomically: a
// run cut short leaves the previous files whole.
func (r Report) WriteFiles(dir string) error { return r.WriteFilesAs(dir, "claims") }

// WriteFilesAs writes STEM.json and STEM.md into dir, each atomically.
func (r Report) WriteFilesAs(dir, stem string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, stem+".json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	r.WriteMarkdown(&md)
	return atomicfile.WriteFile(filepath.Join(dir, stem+".md"), []byte(md.String()), 0o644)
}

// LoadReport reads a claims.json written by WriteFiles; like a Ginkgo
// report, it is refused past MaxGinkgoJSON (a real one is tens of KiB).
func LoadReport(path string) (Report, error) {
	var r Report
	data, err := inputfile.Read(path, MaxGinkgoJSON)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// WriteTable prints the claim-by-claim table a student reads in a terminal,
// then the reasons behind every verdict that is not "holds".
func (r Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "kernel %s · cgroup layout %s · memory controller %s (%s)\n",
		r.Env.Kernel, r.Env.Layout, r.Env.MemoryMount, r.Env.MemoryMode)
	if r.Env.Docker != "" {
		fmt.Fprintf(w, "docker %s\n", r.Env.Docker)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMODE\tCLAIM\tARTICLE\tOBSERVED\tVERDICT\tFILE READ")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", res.ID, res.Mode,
			clip(res.Claim, 44), clip(res.Article, 26), clip(headline(res.Observed), 34),
			res.Verdict, clip(strings.Join(res.Files, ","), 30))
	}
	tw.Flush()
	// One line per distinct reason: a machine without v2 memory skips every
	// v2 spec for the same reason, and saying it once is enough.
	var reasons []string
	who := map[string][]string{}
	for _, res := range r.Results {
		if res.Verdict == Holds || res.Why == "" {
			continue
		}
		key := string(res.Verdict) + ": " + res.Why
		if _, seen := who[key]; !seen {
			reasons = append(reasons, key)
		}
		who[key] = append(who[key], res.ID+"/"+res.Mode)
	}
	if len(reasons) > 0 {
		fmt.Fprintln(w, "\nwhy:")
	}
	for _, key := range reasons {
		fmt.Fprintf(w, "  %s %s\n", strings.Join(who[key], " "), key)
	}
	n := r.Count()
	fmt.Fprintf(w, "\n%d results (claim x cgroup mode): %d holds, %d corrected, %d skipped, %d failed, %d interrupted, %d no result\n",
		len(r.Results), n[Holds], n[Corrected], n[Skipped], n[Failed], n[Interrupted], n[NoResult])
}

// WriteMarkdown writes the report with article and observed figures side by side.
func (r Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# memlab claims report\n\n")
	fmt.Fprintf(w, "- kernel: `%s`\n- cgroup layout: %s\n- memory controller: `%s` (%s)\n",
		r.Env.Kernel, r.Env.Layout, r.Env.MemoryMount, r.Env.MemoryMode)
	if r.Env.Docker != "" {
		fmt.Fprintf(w, "- docker: %s\n", r.Env.Docker)
	}
	fmt.Fprintf(w, "- generated: %s\n\n", r.Generated.Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintln(w, "| ID | mode | claim | article | observed | verdict | files read |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, res := range r.Results {
		var obs []string
		for _, f := range res.Observed {
			obs = append(obs, f.Name+" = "+f.Value)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | **%s** | %s |\n", res.ID, res.Mode,
			mdCell(res.Claim), mdCell(res.Article), mdCell(strings.Join(obs, "<br>")),
			res.Verdict, mdCell(strings.Join(res.Files, ", ")))
	}
	fmt.Fprintln(w)
	for _, res := range r.Results {
		if res.Why != "" {
			fmt.Fprintf(w, "- **%s/%s %s**: %s\n", res.ID, res.Mode, res.Verdict, mdCell(res.Why))
		}
	}
}

// headline is the first observed figure, the one a table has room for.
func headline(figs []Figure) string {
	if len(figs) == 0 {
		return "-"
	}
	return figs[0].Name + "=" + figs[0].Value
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
