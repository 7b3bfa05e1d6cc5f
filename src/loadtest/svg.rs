//! `--plot FILE.svg`: latency over time, one colour per server, switches as vertical lines,
//! errors as red crosses. Hand-written SVG: a few hundred bytes of markup per feature is far
//! less than a plotting crate. Latency is on a log scale so a 0.3 ms baseline and a 2 s stall
//! are both readable. Large runs are thinned per pixel column, keeping each column's fastest
//! and slowest request per server, so stalls are never hidden by the thinning.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::report::Report;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 70.0;
/// Above this many points the plot is thinned.
const MAX_POINTS: usize = 20_000;
const PALETTE: [&str; 8] = [
    "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#e377c2",
];
const NO_SERVER: &str = "#7f7f7f";
const ERROR: &str = "#d62728";

/// One dot: seconds from start, latency in ms, series (server id, or none), error or not.
#[derive(Clone, Copy)]
struct Point {
    t: f64,
    ms: f64,
    series: Option<u16>,
    error: bool,
}

/// The plot as an SVG document.
pub fn to_svg(report: &Report) -> String {
    let points = thin(points_of(report), report);
    let scale = Scale::fit(&points, report);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let title = format!("{} — {}", report.url, report.mode);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="18" font-size="13">{}</text>"#,
        escape(&title)
    );
    axes(&mut svg, &scale);
    switches(&mut svg, &scale, report);
    dots(&mut svg, &scale, &points);
    legend(&mut svg, report);
    svg.push_str("</svg>\n");
    svg
}

fn points_of(report: &Report) -> Vec<Point> {
    report
        .samples
        .iter()
        .map(|s| Point {
            t: s.intended_ns as f64 / 1e9,
            ms: (s.latency_ns().max(1_000)) as f64 / 1e6,
            series: s.server,
            error: s.error.is_some(),
        })
        .collect()
}

/// Keeps, per pixel column and series, the fastest and the slowest point.
fn thin(points: Vec<Point>, report: &Report) -> Vec<Point> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let span = report.elapsed.as_secs_f64().max(1e-3);
    let mut kept: HashMap<(u32, Option<u16>, bool), (Point, Point)> = HashMap::new();
    for p in points {
        let column = ((p.t / span) * (WIDTH - LEFT - RIGHT)) as u32;
        let entry = kept.entry((column, p.series, p.error)).or_insert((p, p));
        if p.ms < entry.0.ms {
            entry.0 = p;
        }
        if p.ms > entry.1.ms {
            entry.1 = p;
        }
    }
    kept.into_values().flat_map(|(a, b)| [a, b]).collect()
}

/// Maps seconds and milliseconds to pixels.
struct Scale {
    t_max: f64,
    log_min: f64,
    log_max: f64,
}

impl Scale {
    fn fit(points: &[Point], report: &Report) -> Scale {
        let t_max = report.elapsed.as_secs_f64().max(1e-3);
        let lo = points.iter().map(|p| p.ms).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(|p| p.ms).fold(0.0, f64::max);
        let (lo, hi) = if points.is_empty() {
            (0.1, 10.0)
        } else {
            (lo, hi)
        };
        let log_min = lo.log10().floor();
        let log_max = hi.log10().ceil().max(log_min + 1.0);
        Scale {
            t_max,
            log_min,
            log_max,
        }
    }

    fn x(&self, t: f64) -> f64 {
        LEFT + (t / self.t_max).clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, ms: f64) -> f64 {
        let f = (ms.log10() - self.log_min) / (self.log_max - self.log_min);
        HEIGHT - BOTTOM - f.clamp(0.0, 1.0) * (HEIGHT - TOP - BOTTOM)
    }
}

fn axes(svg: &mut String, scale: &Scale) {
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP);
    let _ = writeln!(
        svg,
        r#"<path d="M{x0} {y1}V{y0}H{x1}" fill="none" stroke="black"/>"#
    );
    let mut decade = scale.log_min;
    while decade <= scale.log_max {
        let ms = 10f64.powf(decade);
        let y = scale.y(ms);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{} ms</text>"##,
            x0 - 4.0,
            y + 4.0,
            trim_number(ms)
        );
        decade += 1.0;
    }
    let step = nice_step(scale.t_max);
    let mut t = 0.0;
    while t <= scale.t_max + 1e-9 {
        let x = scale.x(t);
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{}" stroke="black"/><text x="{x:.1}" y="{}" text-anchor="middle">{} s</text>"#,
            y0 + 4.0,
            y0 + 16.0,
            trim_number(t)
        );
        t += step;
    }
    let _ = writeln!(
        svg,
        r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">latency from intended send</text>"#,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0
    );
}

/// A tick step giving at most ~12 ticks: 1, 2 or 5 times a power of ten seconds.
fn nice_step(span: f64) -> f64 {
    let raw = span / 12.0;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

fn trim_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn switches(svg: &mut String, scale: &Scale, report: &Report) {
    for switch in &report.switches {
        let x = scale.x(switch.sent.as_secs_f64());
        let colour = if switch.reply.is_ok() { "#444" } else { ERROR };
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="{colour}" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" fill="{colour}">{}</text>"#,
            HEIGHT - BOTTOM,
            x + 3.0,
            TOP + 10.0,
            escape(&switch.command)
        );
    }
}

fn dots(svg: &mut String, scale: &Scale, points: &[Point]) {
    for p in points.iter().filter(|p| !p.error) {
        let colour = p.series.map_or(NO_SERVER, colour_of);
        let _ = writeln!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="1.8" fill="{colour}"/>"#,
            scale.x(p.t),
            scale.y(p.ms)
        );
    }
    // Errors last, on top, so none is hidden under a dot.
    for p in points.iter().filter(|p| p.error) {
        let (x, y) = (scale.x(p.t), scale.y(p.ms));
        let _ = writeln!(
            svg,
            r#"<path d="M{:.1} {:.1}l6 6m0 -6l-6 6" stroke="{ERROR}" stroke-width="1.5"/>"#,
            x - 3.0,
            y - 3.0
        );
    }
}

fn colour_of(series: u16) -> &'static str {
    PALETTE[usize::from(series) % PALETTE.len()]
}

fn legend(svg: &mut String, report: &Report) {
    let y = HEIGHT - 22.0;
    let mut x = LEFT;
    let mut entries: Vec<(String, &str)> = report
        .server_names
        .iter()
        .enumerate()
        .map(|(id, name)| (name.clone(), colour_of(id as u16)))
        .collect();
    entries.push(("error".into(), ERROR));
    for (name, colour) in entries {
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{y}">{}</text>"#,
            y - 9.0,
            x + 14.0,
            escape(&name)
        );
        x += 24.0 + 6.5 * name.chars().count() as f64;
    }
}

/// XML text escaping for labels (server names and commands come from the network and CLI).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_step(10.0), 1.0);
        assert_eq!(nice_step(60.0), 5.0);
        assert_eq!(nice_step(1.0), 0.1);
        assert_eq!(trim_number(0.5), "0.5");
        assert_eq!(trim_number(100.0), "100");
    }

    #[test]
    fn text_is_xml_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
