package htmlreport

import "html/template"

var pageTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>memlab report · kernel {{.Env.Kernel}}</title>
<style>
:root {
  --ink: #1d232b; --muted: #5d6875; --faint: #8a94a0; --rule: #dfe3e8; --panel: #f6f8fa;
  --holds: #1a7f37; --holds-bg: #dafbe1; --corrected: #9a6700; --corrected-bg: #fff1c2;
  --skipped: #57606a; --skipped-bg: #eaeef2; --failed: #cf222e; --failed-bg: #ffebe9;
  --usage: #2563c4; --limit: #cf222e; --oom: #8250df;
}
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 36px 0 6px; padding-bottom: 6px; border-bottom: 1px solid var(--rule); }
p.lede { margin: 0 0 14px; color: var(--muted); max-width: 60em; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 0.92em; }
.env { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 12px 0 16px; padding: 10px 14px;
  background: var(--panel); border: 1px solid var(--rule); border-radius: 8px; font-size: 14px; }
.env div span { color: var(--muted); }
.counts { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 0 0 6px; font-size: 14px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12.5px; font-weight: 600;
  white-space: nowrap; border: 1px solid transparent; }
.v-holds { color: var(--holds); background: var(--holds-bg); border-color: #aceebb; }
.v-corrected { color: var(--corrected); background: var(--corrected-bg); border-color: #f5d580; }
.v-skipped, .v-notrun { color: var(--skipped); background: var(--skipped-bg); border-color: #d0d7de; }
.v-failed, .v-noresult { color: var(--failed); background: var(--failed-bg); border-color: #ffcecb; }
nav { font-size: 14px; color: var(--muted); }
nav a { color: var(--usage); text-decoration: none; margin-right: 14px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
table.claims { table-layout: fixed; }
table.claims td { overflow-wrap: anywhere; }
th { text-align: left; font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted);
  border-bottom: 2px solid var(--rule); padding: 6px 8px; position: sticky; top: 0; background: #fff; }
td { padding: 8px 8px; vertical-align: top; }
table.claims tr.claim td { border-top: 1px solid var(--rule); }
table.claims tr.claim.first td { border-top: 2px solid #c9d1d9; }
table.claims tr.muted td { color: var(--faint); }
table.claims tr.muted td .badge { opacity: 0.8; }
td.id { font-weight: 700; white-space: nowrap; }
td.mode { white-space: nowrap; color: var(--muted); }
td.observed ul { margin: 0; padding: 0; list-style: none; }
td.observed li { margin: 0 0 3px; }
td.observed .name { color: var(--muted); }
td.observed .file { color: var(--faint); font-size: 12px; }
td.observed a { font-size: 13px; color: var(--usage); text-decoration: none; }
tr.why td { padding-top: 0; font-size: 13px; color: var(--muted); }
tr.why td div { border-left: 3px solid var(--rule); padding: 2px 0 2px 10px; max-width: 70em; }
tr.why.v-corrected-why td div { border-left-color: #f5d580; }
tr.why.v-failed-why td div { border-left-color: #ffcecb; color: var(--failed); }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 18px; margin-top: 12px; }
figure { margin: 0; padding: 12px 14px 10px; border: 1px solid var(--rule); border-radius: 10px; background: #fff; }
figure h3 { margin: 0 0 2px; font-size: 15px; display: flex; gap: 10px; align-items: baseline; justify-content: space-between; }
figure h3 a { color: inherit; text-decoration: none; }
figure .claimtext { margin: 0 0 6px; font-size: 13px; color: var(--muted); min-height: 2.9em; }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 4px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart .grid line { stroke: #eef1f4; stroke-width: 1; }
svg.chart .axis line { stroke: #9aa4ae; stroke-width: 1; }
svg.chart text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: var(--muted); }
svg.chart .ytick { text-anchor: end; }
svg.chart .xtick { text-anchor: middle; }
svg.chart .label { text-anchor: middle; font-size: 12px; fill: var(--ink); }
svg.chart .area { fill: rgba(37, 99, 196, 0.10); stroke: none; }
svg.chart .usage { fill: none; stroke: var(--usage); stroke-width: 2.2; stroke-linejoin: round; }
svg.chart .samples circle { fill: #fff; stroke: var(--usage); stroke-width: 1.3; }
svg.chart .limit { stroke: var(--limit); stroke-width: 1.6; stroke-dasharray: 6 4; }
svg.chart .limit-label { fill: var(--limit); font-weight: 600; }
svg.chart .oom line { stroke: var(--oom); stroke-width: 1.6; }
svg.chart .oom path { fill: var(--oom); }
svg.chart .oom text { fill: var(--oom); font-weight: 600; font-size: 12px; }
.legend { display: flex; gap: 16px; font-size: 12.5px; color: var(--muted); margin: 6px 0 0; }
.legend i { display: inline-block; width: 18px; height: 0; vertical-align: middle; margin-right: 5px; border-top: 2.2px solid var(--usage); }
.legend i.limit { border-top: 2px dashed var(--limit); }
.legend i.oom { width: 0; height: 12px; border-top: 0; border-left: 2px solid var(--oom); }
table.matrix td, table.matrix th { text-align: center; border-bottom: 1px solid var(--rule); }
table.matrix td.cid, table.matrix th.cid { text-align: left; }
table.matrix td.cid { max-width: 420px; }
table.matrix .ctext { color: var(--muted); font-size: 13px; }
table.matrix .notrun { color: var(--faint); }
table.matrix th .rel { display: block; font-weight: 400; text-transform: none; letter-spacing: 0; color: var(--faint); }
pre.raw { background: var(--panel); border: 1px solid var(--rule); border-radius: 8px; padding: 10px; overflow: auto; max-height: 480px; font-size: 12px; }
.note { font-size: 13px; color: var(--muted); }
footer { margin-top: 40px; font-size: 12.5px; color: var(--faint); }
</style>
</head>
<body>
<main>
<h1>memlab: the cgroup memory controller, claim by claim</h1>
<p class="lede">Each claim of the article <span title="Docker容器基础2：Cgroup - memory子系统">“Docker basics 2: the cgroup memory subsystem”</span> (kernel 4.4, 2020), checked on this machine.
<b>holds</b>: the article is right here · <b>corrected</b>: it is not, and the evidence is given · <b>skipped</b>: this machine lacks what the claim needs, and says why.</p>

<div class="env">
  <div><span>kernel</span> <code>{{.Env.Kernel}}</code></div>
  <div><span>cgroup layout</span> {{.Env.Layout}}</div>
  <div><span>memory controller</span> <code>{{.Env.MemoryMount}}</code> ({{.Env.MemoryMode}})</div>
  {{- if .Env.Docker}}<div><span>docker</span> {{.Env.Docker}}</div>{{end}}
  {{- if .Env.Hostname}}<div><span>host</span> {{.Env.Hostname}}</div>{{end}}
  {{- if .Generated}}<div><span>generated</span> {{.Generated}}</div>{{end}}
</div>
<div class="counts" id="counts">{{.Total}} results (claim × cgroup mode):
  {{- range .Counts}} <span class="badge {{.Class}}">{{.N}} {{.Verdict}}</span>{{end}}
</div>
<nav>{{if .Charts}}<a href="#charts">Memory over time</a>{{end}}<a href="#claims">Claims</a>{{if .Matrix}}<a href="#matrix">Kernel matrix</a>{{end}}</nav>

{{if .Charts}}
<h2 id="charts">Memory over time</h2>
<p class="lede">The group's usage, read from its cgroup file every {{.Interval}} while the spec ran; time counts from the moment the workload was released.
The dots are the samples: between two of them the kernel may have charged and freed more than the line shows.</p>
<div class="legend"><span><i></i>usage</span><span><i class="limit"></i>limit</span><span><i class="oom"></i>first OOM kill</span></div>
<div class="charts">
{{range .Charts}}
<figure id="{{.ID}}">
  <h3><a href="#{{.Row}}">{{.Title}}</a> <span class="badge {{.Class}}">{{.Verdict}}</span></h3>
  <p class="claimtext">{{.Claim}}</p>
  {{.SVG}}
  <figcaption>{{.Caption}}</figcaption>
</figure>
{{end}}
</div>
{{end}}

<h2 id="claims">Claims</h2>
{{- if .CommonSkip}}
<p class="note">{{.CommonSkipN}} results are skipped for one reason, not repeated below: <i>{{.CommonSkip}}</i></p>
{{- end}}
<table class="claims">
<colgroup><col style="width:46px"><col style="width:76px"><col style="width:25%"><col style="width:14%"><col><col style="width:104px"></colgroup>
<thead><tr><th>ID</th><th>cgroup</th><th>claim</th><th>article</th><th>observed here</th><th>verdict</th></tr></thead>
<tbody>
{{- $prev := "" -}}
{{range .Rows}}
<tr class="claim{{if ne .ID $prev}} first{{end}}{{if eq .Verdict "skipped"}} muted{{end}}" id="{{.Anchor}}" data-claim="{{.ID}}" data-mode="{{.Mode}}" data-verdict="{{.Verdict}}">
  <td class="id">{{.ID}}</td>
  <td class="mode">{{.Mode}}</td>
  <td class="claim">{{if not .Repeat}}{{.Claim}}{{end}}</td>
  <td class="article">{{if not .Repeat}}{{.Article}}{{end}}</td>
  <td class="observed">{{if .Observed}}<ul>{{range .Observed}}<li><span class="name">{{.Name}}</span> <b class="mono">{{.Value}}</b>{{if .File}} <span class="file">({{.File}})</span>{{end}}</li>{{end}}</ul>{{else}}—{{end}}
    {{- range .Charts}}<a href="#{{.ID}}">▸ chart: {{.Name}}</a><br>{{end}}</td>
  <td><span class="badge {{.Class}}"{{if .Title}} title="{{.Title}}"{{end}}>{{.Verdict}}</span></td>
</tr>
{{- if .Why}}
<tr class="why {{.Class}}-why{{if eq .Verdict "skipped"}} muted{{end}}"><td></td><td></td><td colspan="4"><div>{{.Why}}</div></td></tr>
{{- end}}
{{- $prev = .ID -}}
{{end}}
</tbody>
</table>

{{with .Matrix}}
<h2 id="matrix">Kernel matrix</h2>
{{if .Columns}}
<p class="lede">Every claim's verdict on each kernel and cgroup mode the matrix booted{{if .Generated}} ({{.Generated}}{{if .Accel}}, {{.Accel}}{{end}}){{end}}.</p>
<table class="matrix">
<thead><tr><th class="cid">claim</th>{{range .Columns}}<th title="{{.Status}}{{if .Reason}}: {{.Reason}}{{end}}">{{.ID}}<span class="rel">{{.Release}}{{if .Status}} · {{.Status}}{{end}}</span></th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr class="mrow" data-claim="{{.ID}}"><td class="cid"><b>{{.ID}}</b> <span class="ctext">{{.Claim}}</span></td>{{range .Cells}}<td>{{if eq .Verdict "-"}}<span class="notrun" title="not run in this cell">–</span>{{else}}<span class="badge {{.Class}}">{{.Verdict}}</span>{{end}}</td>{{end}}</tr>
{{end}}
</tbody>
</table>
{{if .Changes}}<p class="note"><b>Changed from the baseline:</b></p><ul class="note">{{range .Changes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{else}}
<p class="note">{{.Problem}}</p>
{{if .Raw}}<pre class="raw">{{.Raw}}</pre>{{end}}
{{end}}
{{end}}

<footer>Written by <code>memlab report</code>. One self-contained file: it loads nothing from anywhere. claims.json beside it has the same results as data.</footer>
</main>
</body>
</html>
`))
