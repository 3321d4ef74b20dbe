//! The report's charts as inline SVG, drawn by plotters' SVG backend: a horizontal bar chart
//! of sizes and a line chart of recorded growth with its projections. Text is SVG `<text>`
//! in the page's font, so the charts need no font file, script or network.

use std::error::Error;

use plotters::prelude::*;

use super::stats::bytes;

const WIDTH: u32 = 760;
const BAR: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const RECORDED: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const PROJECTED: RGBColor = RGBColor(0xd9, 0x77, 0x06);
const GRID: RGBColor = RGBColor(0xe2, 0xe8, 0xf0);

/// One bar: its label and its value in bytes.
pub struct Bar {
    pub label: String,
    pub bytes: i64,
}

/// Horizontal bars, largest first as given; an empty string for no bars.
pub fn size_bars(bars: &[Bar]) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let height = 40 + 26 * bars.len() as u32;
    let max = bars.iter().map(|b| b.bytes).max().unwrap_or(0).max(1) as f64 * 1.05;
    let longest = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0) as u32;
    let mut svg = String::new();
    let drawn = draw_bars(&mut svg, bars, height, max, longest);
    finish(svg, drawn)
}

fn draw_bars(
    svg: &mut String,
    bars: &[Bar],
    height: u32,
    max: f64,
    longest: u32,
) -> Result<(), Box<dyn Error>> {
    {
        let root = SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = bars.len();
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size((longest * 7 + 12).clamp(60, 320))
            .build_cartesian_2d(0f64..max, (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .x_labels(5)
            .x_label_formatter(&|v| bytes(*v as i64))
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => bars
                    .get(n.saturating_sub(1 + *i))
                    .map(|b| b.label.clone())
                    .unwrap_or_default(),
                SegmentValue::Exact(_) | SegmentValue::Last => String::new(),
            })
            .draw()?;
        // Largest on top: bar k is drawn in row n - 1 - k.
        chart.draw_series(bars.iter().enumerate().map(|(k, b)| {
            let row = n - 1 - k;
            let mut r = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row)),
                    (b.bytes as f64, SegmentValue::Exact(row + 1)),
                ],
                BAR.filled(),
            );
            r.set_margin(4, 4, 0, 0);
            r
        }))?;
        root.present()?;
    }
    Ok(())
}

/// A line chart: the recorded points (x in days relative to the last one, circles) and the
/// projection from the last point (triangles at each projected day).
pub struct GrowthSeries<'a> {
    /// (days relative to the last snapshot, total bytes)
    pub recorded: &'a [(f64, f64)],
    /// (days after the last snapshot, projected total bytes)
    pub projected: &'a [(f64, f64)],
    /// Date label for a day offset.
    pub date_of: &'a dyn Fn(f64) -> String,
}

pub fn growth_line(s: &GrowthSeries) -> String {
    let all = s.recorded.iter().chain(s.projected);
    let (mut x0, mut x1, mut y1) = (0f64, 1f64, 1f64);
    for (x, y) in all {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y1 = y1.max(*y);
    }
    let pad = (x1 - x0) * 0.03;
    let mut svg = String::new();
    let drawn = draw_growth(&mut svg, s, (x0 - pad)..(x1 + pad), y1 * 1.1);
    finish(svg, drawn)
}

fn draw_growth(
    svg: &mut String,
    s: &GrowthSeries,
    x: std::ops::Range<f64>,
    y_max: f64,
) -> Result<(), Box<dyn Error>> {
    {
        let root = SVGBackend::with_string(svg, (WIDTH, 300)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(80)
            .build_cartesian_2d(x, 0f64..y_max)?;
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|d| (s.date_of)(*d))
            .y_label_formatter(&|v| bytes(*v as i64))
            .draw()?;
        chart.draw_series(LineSeries::new(
            s.recorded.iter().copied(),
            RECORDED.stroke_width(2),
        ))?;
        chart.draw_series(
            s.recorded
                .iter()
                .map(|p| Circle::new(*p, 4, RECORDED.filled())),
        )?;
        if let Some(last) = s.recorded.last() {
            chart.draw_series(LineSeries::new(
                std::iter::once(*last).chain(s.projected.iter().copied()),
                PROJECTED.stroke_width(2),
            ))?;
            chart.draw_series(
                s.projected
                    .iter()
                    .map(|p| TriangleMarker::new(*p, 6, PROJECTED.filled())),
            )?;
        }
        root.present()?;
    }
    Ok(())
}

/// The SVG, or a line saying the chart could not be drawn (never a broken page).
fn finish(svg: String, drawn: Result<(), Box<dyn Error>>) -> String {
    match drawn {
        Ok(()) => svg,
        Err(e) => format!("<p class=\"note\">chart not drawn: {e}</p>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_growth_chart_has_a_marker_per_point_and_the_bars_a_rect_per_bar() {
        let recorded = [(-20.0, 1000.0), (-10.0, 2000.0), (0.0, 3000.0)];
        let projected = [(30.0, 6000.0), (90.0, 12000.0), (365.0, 39500.0)];
        let svg = growth_line(&GrowthSeries {
            recorded: &recorded,
            projected: &projected,
            date_of: &|d| format!("d{d:.0}"),
        });
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<polygon").count(), 3);
        let bars = size_bars(&[
            Bar {
                label: "db.a<b".into(),
                bytes: 4096,
            },
            Bar {
                label: "db.c".into(),
                bytes: 1024,
            },
        ]);
        // The background and one per bar; labels are escaped.
        assert_eq!(bars.matches("<rect").count(), 3, "{bars}");
        assert!(bars.contains("db.a&lt;b") && !bars.contains("db.a<b"));
        assert!(size_bars(&[]).is_empty());
    }
}
