package htmlreport

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/memlab/memlab/labs/report/ledger"
)

// Chart geometry, in SVG user units (the SVG scales to its container).
const (
	chartW, chartH                     = 640, 280
	padLeft, padRight, padTop, padBott = 64, 24, 24, 48
	mib                                = 1 << 20
	dotLimit                           = 200 // more samples than this: no dot per sample
)

// chartSVG draws one series: usage over time (a line with a dot per
// sample), the limit (a dashed line), and the moment of the first OOM kill
// (a vertical marker). Axes are in ms and MiB.
func chartSVG(id string, s ledger.Series, title string) string {
	plotW := float64(chartW - padLeft - padRight)
	plotH := float64(chartH - padTop - padBott)

	var maxT, maxB int64
	for _, p := range s.Points {
		maxT = max(maxT, p.AtMS)
		maxB = max(maxB, p.Bytes)
	}
	if s.OOMKillAtMS > maxT {
		maxT = s.OOMKillAtMS
	}
	hasLimit := s.Limit > 0 && s.Limit < 1<<50
	if hasLimit {
		maxB = max(maxB, s.Limit)
	}
	xTicks, xMax := niceTicks(float64(max(maxT, 1)), 8)
	yTicks, yMax := niceTicks(float64(max(maxB, mib))/mib*1.08, 6)
	x := func(ms float64) float64 { return padLeft + ms/xMax*plotW }
	y := func(b float64) float64 { return padTop + plotH - b/mib/yMax*plotH }

	var b strings.Builder
	desc := describe(s)
	fmt.Fprintf(&b, `<svg class="chart" id="%s" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d">`,
		id, chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(desc))

	// grid and axes
	b.WriteString(`<g class="grid">`)
	for _, v := range yTicks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x(0), y(v*mib), x(xMax), y(v*mib))
	}
	for _, v := range xTicks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x(v), y(0), x(v), y(yMax*mib))
	}
	b.WriteString(`</g><g class="axis">`)
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x(0), y(0), x(xMax), y(0))
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x(0), y(0), x(0), y(yMax*mib))
	for _, v := range yTicks {
		fmt.Fprintf(&b, `<text class="ytick" x="%.1f" y="%.1f">%s</text>`, x(0)-8, y(v*mib)+4, num(v))
	}
	for _, v := range xTicks {
		fmt.Fprintf(&b, `<text class="xtick" x="%.1f" y="%.1f">%s</text>`, x(v), y(0)+18, num(v))
	}
	fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%d">time since the workload started (ms)</text>`, x(xMax/2), chartH-6)
	fmt.Fprintf(&b, `<text class="label" transform="translate(16 %.1f) rotate(-90)">%s (MiB)</text>`, y(yMax*mib/2), esc(s.File))
	b.WriteString(`</g>`)

	// the usage area and line
	if len(s.Points) > 0 {
		var pts []string
		for _, p := range s.Points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(p.AtMS)), y(float64(p.Bytes))))
		}
		first, last := s.Points[0], s.Points[len(s.Points)-1]
		fmt.Fprintf(&b, `<polygon class="area" points="%.1f,%.1f %s %.1f,%.1f"/>`,
			x(float64(first.AtMS)), y(0), strings.Join(pts, " "), x(float64(last.AtMS)), y(0))
		fmt.Fprintf(&b, `<polyline class="usage" points="%s"/>`, strings.Join(pts, " "))
		if len(s.Points) <= dotLimit {
			b.WriteString(`<g class="samples">`)
			for _, p := range s.Points {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.2"><title>%d ms: %s MiB</title></circle>`,
					x(float64(p.AtMS)), y(float64(p.Bytes)), p.AtMS, mibs(p.Bytes))
			}
			b.WriteString(`</g>`)
		}
	}

	// the limit
	if hasLimit {
		fmt.Fprintf(&b, `<line class="limit" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x(0), y(float64(s.Limit)), x(xMax), y(float64(s.Limit)))
		fmt.Fprintf(&b, `<text class="limit-label" x="%.1f" y="%.1f">limit %s MiB</text>`, x(0)+6, y(float64(s.Limit))-6, mibs(s.Limit))
	}

	// the OOM kill
	if s.OOMKillAtMS >= 0 {
		ox := x(float64(s.OOMKillAtMS))
		anchor, dx := "end", -6.0
		if ox < padLeft+plotW*0.35 {
			anchor, dx = "start", 6
		}
		fmt.Fprintf(&b, `<g class="oom"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, ox, y(0), ox, y(yMax*mib))
		fmt.Fprintf(&b, `<path d="M%.1f %.1f l-6 -10 h12 z"/>`, ox, y(yMax*mib)+10)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="%s">OOM kill at %d ms</text></g>`,
			ox+dx, y(yMax*mib)+26, anchor, s.OOMKillAtMS)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// describe is the chart's caption: what was read, how often, what happened.
func describe(s ledger.Series) string {
	var peak int64
	for _, p := range s.Points {
		peak = max(peak, p.Bytes)
	}
	parts := []string{fmt.Sprintf("%s read every %d ms (%d samples)", s.File, s.IntervalMS, len(s.Points))}
	if len(s.Points) > 0 {
		parts = append(parts, fmt.Sprintf("peak %s MiB", mibs(peak)))
	}
	if s.Limit > 0 && s.Limit < 1<<50 {
		parts = append(parts, fmt.Sprintf("limit %s MiB", mibs(s.Limit)))
	}
	if s.OOMKillAtMS >= 0 {
		parts = append(parts, fmt.Sprintf("the OOM killer first struck at %d ms", s.OOMKillAtMS))
	} else {
		parts = append(parts, "no OOM kill")
	}
	return strings.Join(parts, "; ")
}

// niceTicks picks round tick values from 0 to at least hi, about n of them,
// and returns them with the axis end.
func niceTicks(hi float64, n int) ([]float64, float64) {
	raw := hi / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	end := math.Ceil(hi/step-1e-9) * step
	var ticks []float64
	for v := 0.0; v <= end+step/2; v += step {
		ticks = append(ticks, v)
	}
	return ticks, end
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func mibs(b int64) string {
	v := float64(b) / mib
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func esc(s string) string { return html.EscapeString(s) }
