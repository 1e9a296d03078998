package bench

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Series is one line of the plot.
type Series struct {
	Name   string
	Color  string
	Dashed bool
	Levels []Level
}

// PlotSVG draws two panels over the closed-loop levels (concurrency on a
// log2 axis): throughput, and p99 latency.
func PlotSVG(title string, series []Series) string {
	const W, H = 1000, 420
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" text-anchor="middle">%s</text>`+"\n", W/2, esc(title))
	panel(&b, 60, 50, 400, 300, "requests in flight (c)", "answers per second", series, func(l Level) float64 { return l.Throughput })
	panel(&b, 560, 50, 400, 300, "requests in flight (c)", "p99 latency (ms)", series, func(l Level) float64 { return float64(l.P99) / float64(time.Millisecond) })
	for i, s := range series {
		x, y := 60+i*230, H-22
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"%s/>`, x, y-4, x+28, y-4, s.Color, dash(s.Dashed))
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", x+34, y, esc(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func panel(b *strings.Builder, x0, y0, w, h int, xlabel, ylabel string, series []Series, val func(Level) float64) {
	maxC, maxV := 1, 0.0
	for _, s := range series {
		for _, l := range s.Levels {
			maxC = max(maxC, l.Concurrency)
			maxV = math.Max(maxV, val(l))
		}
	}
	maxV = nice(maxV)
	xmax := math.Max(1, math.Log2(float64(maxC)))
	px := func(c int) float64 { return float64(x0) + float64(w)*math.Log2(float64(max(c, 1)))/xmax }
	py := func(v float64) float64 { return float64(y0+h) - float64(h)*v/maxV }
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", x0, y0, w, h)
	for i := 0; i <= 4; i++ {
		v := maxV * float64(i) / 4
		y := py(v)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0, y, x0+w, y, x0-6, y+4, short(v))
	}
	for c := 1; c <= maxC; c *= 2 {
		x := px(c)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/><text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x, y0, x, y0+h, x, y0+h+16, c)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x0+w/2, y0+h+34, esc(xlabel))
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" transform="rotate(-90 %d %d)">%s</text>`+"\n", x0-44, y0+h/2, x0-44, y0+h/2, esc(ylabel))
	for _, s := range series {
		var pts []string
		for _, l := range s.Levels {
			if l.Concurrency == 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(l.Concurrency), py(val(l))))
		}
		if len(pts) == 0 {
			continue
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"%s/>`+"\n", strings.Join(pts, " "), s.Color, dash(s.Dashed))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`, xy[0], xy[1], s.Color)
		}
		b.WriteString("\n")
	}
}

func dash(d bool) string {
	if d {
		return ` stroke-dasharray="6 4"`
	}
	return ""
}

// nice rounds v up to 1, 2 or 5 times a power of ten.
func nice(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func short(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.1fk", v/1000)
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
