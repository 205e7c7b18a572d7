package loadtest

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the human summary of res (and its verification, if any).
func WriteText(w io.Writer, res *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s  target %s\nschedule %s  mix %s  seed %d\n", res.RunID, res.Target, res.Schedule, res.Mix, res.Seed)
	fmt.Fprintf(&b, "planned %d  sent %d  ok %d  errors %d  late(>%s) %d  not started %d  unsent %d  elapsed %s\n",
		res.Planned, res.Sent, res.OK, res.ErrorCount(), fmtDur(res.LateAfter), res.Late, res.NotStarted, res.Unsent, res.Elapsed.Round(time.Millisecond))
	if len(res.Errors) > 0 {
		b.WriteString("errors by kind: " + fmtKinds(res.Errors) + "\n")
	}
	if res.GeneratorCPU > 0 {
		fmt.Fprintf(&b, "generator CPU %s (%s per request sent)\n", res.GeneratorCPU.Round(time.Millisecond), fmtDur(res.GeneratorCPUPerRequest))
	}
	if res.NotStarted > 0 {
		b.WriteString("NOTE: some due requests never started; they count in the latency figures with the time they had waited (a lower bound)\n")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tsent\tok\terrors\tok/s\tp50\tp90\tp99\tp99.9\tmax\t")
	secs := res.Elapsed.Seconds()
	rate := func(n int64) string {
		if secs <= 0 {
			return "-"
		}
		return strconv.FormatFloat(float64(n)/secs, 'f', 0, 64)
	}
	row := func(name string, sent, ok, errs int64, p Percentiles) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, sent, ok, errs, rate(ok),
			fmtDur(p.P50), fmtDur(p.P90), fmtDur(p.P99), fmtDur(p.P999), fmtDur(p.Max))
	}
	for _, o := range res.Ops {
		var e int64
		for _, n := range o.Errors {
			e += n
		}
		row(o.Op, o.Sent, o.OK, e, o.Latency)
	}
	row("all", res.Sent, res.OK, res.ErrorCount(), res.Latency)
	tw.Flush()
	if len(res.Steps) > 1 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "step\trate\tduration\tplanned\tok\terrors\tok/s\tlate\tnot started\tp50\tp99\tmax\t")
		for _, s := range res.Steps {
			fmt.Fprintf(tw, "%d\t%g\t%s\t%d\t%d\t%d\t%.0f\t%d\t%d\t%s\t%s\t%s\t\n", s.Step, s.Rate, s.Duration, s.Planned, s.OK, s.Errors,
				s.OKPerSecond, s.Late, s.NotStarted, fmtDur(s.Latency.P50), fmtDur(s.Latency.P99), fmtDur(s.Latency.Max))
		}
		tw.Flush()
	}
	if v := res.Verification; v != nil {
		b.WriteString("\n")
		writeVerification(&b, v)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeVerification(b *strings.Builder, v *Verification) {
	verdict := v.Verdict()
	fmt.Fprintf(b, "verification against the ERP simulator (%s): %s\n", strings.Join(v.Versions, ","), verdict)
	fmt.Fprintf(b, "  acknowledged %d  lost %d  duplicated %d  retried %d  unexpected %d (requests with unknown outcome %d)\n",
		v.Acked, v.Lost, v.Duplicated, v.Retried, v.Unexpected, v.Ambiguous)
	if v.Queued+v.Undeliverable+v.Unchecked > 0 {
		fmt.Fprintf(b, "  still queued in the gateway %d  undeliverable %d  unchecked %d\n", v.Queued, v.Undeliverable, v.Unchecked)
	}
	for _, ver := range v.Versions {
		c := v.ByVersion[ver]
		fmt.Fprintf(b, "  %s: present %d  lost %d  duplicated %d  retried %d  queued %d\n", ver, c.Present, c.Lost, c.Duplicated, c.Retried, c.Queued)
	}
	if v.SharedIDs > 0 {
		fmt.Fprintf(b, "  %d acknowledgements reused another order's id (counted as lost)\n", v.SharedIDs)
	}
	if v.Foreign+v.Unattributed > 0 {
		fmt.Fprintf(b, "  new ERP orders not from this run: %d; not attributable: %d\n", v.Foreign, v.Unattributed)
	}
	settled := "settled"
	if !v.Settled {
		settled = "NOT settled"
	}
	fmt.Fprintf(b, "  %s after %s (%d reads of /sim/orders, %d orders read)\n", settled, v.Waited.Round(time.Millisecond), v.Polls, v.OrdersRead)
	for _, e := range []struct {
		name string
		list []string
	}{{"lost", v.LostExamples}, {"queued", v.QueuedExamples}, {"duplicated", v.DuplicatedExamples}, {"unexpected", v.UnexpectedExamples}} {
		if len(e.list) > 0 {
			fmt.Fprintf(b, "  %s e.g.: %s\n", e.name, strings.Join(e.list, ", "))
		}
	}
}

func fmtKinds(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+strconv.FormatInt(m[k], 10))
	}
	return strings.Join(parts, " ")
}

// chart is an SVG line chart, computed here so that the page needs no
// script and no network.
type chart struct {
	Title  string
	W, H   int
	Left   int
	Right  int
	Top    int
	Bottom int
	PlotW  int
	PlotH  int
	// LegendY is the baseline of the legend row under the x labels.
	LegendY int
	Lines   []chartLine
	XTicks  []chartTick
	YTicks  []chartTick
}

type chartLine struct {
	Name, Color string
	Points      string
	LegendX     int
}

type chartTick struct {
	Pos   float64
	Label string
}

const (
	chartW, chartH     = 900, 300
	chartL, chartR     = 70, 20
	chartT, chartB     = 20, 40
	plotW              = chartW - chartL - chartR
	plotH              = chartH - chartT - chartB
	legendSpacing  int = 130
)

type series struct {
	name, color string
	values      []float64
}

// newChart plots series against seconds; logY plots on a log10 axis
// (latencies span orders of magnitude). fmtY labels the y axis.
func newChart(title string, secs []int, ss []series, logY bool, fmtY func(float64) string) chart {
	c := chart{Title: title, W: chartW, H: chartH, Left: chartL, Right: chartL + plotW, Top: chartT,
		Bottom: chartH - chartB, PlotW: plotW, PlotH: plotH, LegendY: chartH - 6}
	if len(secs) == 0 {
		return c
	}
	xmax := float64(secs[len(secs)-1] + 1)
	ymin, ymax := math.Inf(1), 0.0
	for _, s := range ss {
		for _, v := range s.values {
			if logY && v <= 0 {
				continue
			}
			ymin, ymax = math.Min(ymin, v), math.Max(ymax, v)
		}
	}
	if ymax <= 0 {
		ymax = 1
	}
	if logY {
		if math.IsInf(ymin, 1) {
			ymin = 1
		}
		ymin = math.Pow(10, math.Floor(math.Log10(ymin)))
		ymax = math.Pow(10, math.Ceil(math.Log10(ymax)))
		if ymax <= ymin {
			ymax = ymin * 10
		}
	} else {
		ymin = 0
		ymax = niceCeil(ymax * 1.05)
	}
	y := func(v float64) float64 {
		var f float64
		if logY {
			if v <= 0 {
				v = ymin
			}
			f = (math.Log10(v) - math.Log10(ymin)) / (math.Log10(ymax) - math.Log10(ymin))
		} else {
			f = (v - ymin) / (ymax - ymin)
		}
		return float64(chartT) + float64(plotH)*(1-f)
	}
	x := func(s float64) float64 { return float64(chartL) + float64(plotW)*s/xmax }
	for i, s := range ss {
		var pts strings.Builder
		for j, v := range s.values {
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(float64(secs[j])+0.5), y(v))
		}
		c.Lines = append(c.Lines, chartLine{Name: s.name, Color: s.color, Points: pts.String(), LegendX: chartL + i*legendSpacing})
	}
	if logY {
		for v := ymin; v <= ymax*1.0001; v *= 10 {
			c.YTicks = append(c.YTicks, chartTick{Pos: y(v), Label: fmtY(v)})
		}
	} else {
		for i := 0; i <= 4; i++ {
			v := ymax * float64(i) / 4
			c.YTicks = append(c.YTicks, chartTick{Pos: y(v), Label: fmtY(v)})
		}
	}
	step := max(1, int(math.Ceil(xmax/10)))
	for s := 0; float64(s) <= xmax; s += step {
		c.XTicks = append(c.XTicks, chartTick{Pos: x(float64(s)), Label: strconv.Itoa(s) + "s"})
	}
	return c
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":   fmtDur,
	"kinds": fmtKinds,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>erpgate load test {{.R.RunID}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:960px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}
.fail{color:#b00;font-weight:bold}.pass{color:#070;font-weight:bold}.warn{color:#a60;font-weight:bold}
svg text{font:11px system-ui,sans-serif;fill:#444}
</style></head><body>
<h1>erpgate load test {{.R.RunID}}</h1>
<p>target <code>{{.R.Target}}</code> · schedule <code>{{.R.Schedule}}</code> · mix <code>{{.R.Mix}}</code> · seed {{.R.Seed}} · started {{.R.Started.Format "2006-01-02 15:04:05 MST"}}</p>
<table>
<tr><th>planned</th><th>sent</th><th>ok</th><th>errors</th><th>late (&gt;{{dur .R.LateAfter}})</th><th>not started</th><th>elapsed</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>
<tr><td>{{.R.Planned}}</td><td>{{.R.Sent}}</td><td>{{.R.OK}}</td><td>{{.R.ErrorCount}}</td><td>{{.R.Late}}</td><td>{{.R.NotStarted}}</td><td>{{.Elapsed}}</td>
<td>{{dur .R.Latency.P50}}</td><td>{{dur .R.Latency.P90}}</td><td>{{dur .R.Latency.P99}}</td><td>{{dur .R.Latency.P999}}</td><td>{{dur .R.Latency.Max}}</td></tr>
</table>
{{if .R.Errors}}<p>errors by kind: {{kinds .R.Errors}}</p>{{end}}
<p>Latency is measured from each request's intended send time on the open-loop schedule, so queueing delay counts.</p>
{{range .Charts}}
<h2>{{.Title}}</h2>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}">
<rect x="{{.Left}}" y="{{.Top}}" width="{{.PlotW}}" height="{{.PlotH}}" fill="#fafafa" stroke="#ccc"/>
{{$c := .}}{{range .YTicks}}<line x1="{{$c.Left}}" x2="{{$c.Right}}" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#e4e4e4"/><text x="{{$c.Left}}" dx="-6" y="{{.Pos}}" dy="4" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<text x="{{.Pos}}" y="{{$c.Bottom}}" dy="16" text-anchor="middle">{{.Label}}</text>
{{end}}{{range .Lines}}<polyline fill="none" stroke="{{.Color}}" stroke-width="1.6" points="{{.Points}}"/>
<rect x="{{.LegendX}}" y="{{$c.LegendY}}" transform="translate(0,-5)" width="12" height="4" fill="{{.Color}}"/><text x="{{.LegendX}}" dx="16" y="{{$c.LegendY}}">{{.Name}}</text>
{{end}}</svg>
{{end}}
<h2>By operation</h2>
<table><tr><th>op</th><th>sent</th><th>ok</th><th>errors</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>
{{range .R.Ops}}<tr><td>{{.Op}}</td><td>{{.Sent}}</td><td>{{.OK}}</td><td>{{kinds .Errors}}</td><td>{{dur .Latency.P50}}</td><td>{{dur .Latency.P90}}</td><td>{{dur .Latency.P99}}</td><td>{{dur .Latency.P999}}</td><td>{{dur .Latency.Max}}</td></tr>
{{end}}</table>
{{if gt (len .R.Steps) 1}}<h2>By step</h2>
<table><tr><th>step</th><th>rate</th><th>duration</th><th>planned</th><th>ok</th><th>errors</th><th>ok/s</th><th>late</th><th>not started</th><th>p50</th><th>p99</th><th>max</th></tr>
{{range .R.Steps}}<tr><td>{{.Step}}</td><td>{{.Rate}}</td><td>{{.Duration}}</td><td>{{.Planned}}</td><td>{{.OK}}</td><td>{{.Errors}}</td><td>{{printf "%.0f" .OKPerSecond}}</td><td>{{.Late}}</td><td>{{.NotStarted}}</td><td>{{dur .Latency.P50}}</td><td>{{dur .Latency.P99}}</td><td>{{dur .Latency.Max}}</td></tr>
{{end}}</table>{{end}}
{{with .R.Verification}}<h2>Verification against the ERP simulator ({{range $i, $v := .Versions}}{{if $i}}, {{end}}{{$v}}{{end}})</h2>
<p class="{{if .Failed}}fail{{else if .Settled}}pass{{else}}warn{{end}}">{{.Verdict}}</p>
<table><tr><th>acknowledged</th><th>lost</th><th>still queued</th><th>duplicated</th><th>retried</th><th>unexpected</th><th>unknown outcome</th><th>foreign</th><th>unattributed</th><th>waited</th></tr>
<tr><td>{{.Acked}}</td><td>{{.Lost}}</td><td>{{.Queued}}</td><td>{{.Duplicated}}</td><td>{{.Retried}}</td><td>{{.Unexpected}}</td><td>{{.Ambiguous}}</td><td>{{.Foreign}}</td><td>{{.Unattributed}}</td><td>{{dur .Waited}}</td></tr></table>
{{range .LostExamples}}<div>lost: <code>{{.}}</code></div>{{end}}{{range .QueuedExamples}}<div>still queued: <code>{{.}}</code></div>{{end}}{{range .DuplicatedExamples}}<div>duplicated: <code>{{.}}</code></div>{{end}}{{range .UnexpectedExamples}}<div>unexpected: <code>{{.}}</code></div>{{end}}
{{end}}
</body></html>
`))

// WriteHTML writes a self-contained HTML page (inline SVG and CSS, nothing
// fetched from anywhere) with throughput and latency percentiles over time.
func WriteHTML(w io.Writer, res *Result) error {
	secs := make([]int, len(res.Series))
	var sent, ok, errs, p50, p90, p99, pmax []float64
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	for i, s := range res.Series {
		secs[i] = s.Second
		sent = append(sent, float64(s.Sent))
		ok = append(ok, float64(s.OK))
		errs = append(errs, float64(s.Errors))
		p50 = append(p50, ms(s.P50))
		p90 = append(p90, ms(s.P90))
		p99 = append(p99, ms(s.P99))
		pmax = append(pmax, ms(s.Max))
	}
	count := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + "/s" }
	lat := func(v float64) string { return fmtDur(time.Duration(v * 1e6)) }
	data := struct {
		R       *Result
		Elapsed string
		Charts  []chart
	}{
		R: res, Elapsed: res.Elapsed.Round(time.Millisecond).String(),
		Charts: []chart{
			newChart("Throughput per second", secs, []series{{"sent", "#888", sent}, {"ok", "#2a7", ok}, {"errors", "#d33", errs}}, false, count),
			newChart("Latency percentiles per second (log scale, from intended send time)", secs,
				[]series{{"p50", "#27c", p50}, {"p90", "#7a2", p90}, {"p99", "#e80", p99}, {"max", "#c22", pmax}}, true, lat),
		},
	}
	return reportTmpl.Execute(w, data)
}
