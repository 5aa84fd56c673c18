//! The overview: the server's figures (`crate::app::figures`) as tiles, three bar charts drawn on the server
//! (SVG in the page: no script, nothing from elsewhere) and tables.

use axum::http::StatusCode;
use axum::response::Response;

use super::desk::Desk;
use super::page;
use super::templates::{self, Bar, Chart, ExpiringRow, ProductFigures, Tile};

/// The drawing's size in SVG units (it scales to the page's width).
const WIDTH: u32 = 600;
const HEIGHT: u32 = 150;

/// The statuses shown, in this order.
const STATUSES: [&str; 4] = ["active", "expired", "suspended", "revoked"];

pub async fn overview(d: Desk) -> Response {
    let v = match crate::app::figures::overview(&d.s, d.caller(), None).await {
        Ok(v) => v,
        Err(e) => return super::refusal_page(&e.into()),
    };
    let now = d.s.clock.now();
    let count = |m: &std::collections::BTreeMap<String, u64>, status: &str| {
        m.get(status).copied().unwrap_or(0)
    };
    let mut tiles = vec![Tile {
        id: "count-products",
        label: "products",
        n: u64::try_from(v.products).unwrap_or(u64::MAX),
    }];
    for (id, status) in [
        ("count-active", "active"),
        ("count-expired", "expired"),
        ("count-suspended", "suspended"),
        ("count-revoked", "revoked"),
    ] {
        tiles.push(Tile {
            id,
            label: status,
            n: count(&v.licenses, status),
        });
    }
    tiles.push(Tile {
        id: "count-seats",
        label: "seats held",
        n: v.seats,
    });
    let days: Vec<(String, [u64; 3])> = v
        .days
        .iter()
        .map(|d| (d.day.clone(), [d.activations, d.validations, d.refusals]))
        .collect();
    let charts = vec![
        chart("chart-activations", "Activations", "activation", &days, 0),
        chart("chart-validations", "Validations", "validation", &days, 1),
        chart("chart-refusals", "Refusals", "refusal", &days, 2),
    ];
    let refusals: Vec<(String, u64)> = v
        .refusals
        .iter()
        .map(|r| (r.code.clone(), r.count))
        .collect();
    let code_of: std::collections::HashMap<&str, &str> = v
        .by_product
        .iter()
        .map(|p| (p.product_id.as_str(), p.code.as_str()))
        .collect();
    let expiring = v
        .expiring
        .iter()
        .map(|e| ExpiringRow {
            id: e.id.clone(),
            key: e.key.clone(),
            product: code_of
                .get(e.product_id.as_str())
                .map_or_else(|| e.product_id.clone(), |c| (*c).to_owned()),
            expires: page::when(e.expires_at, now),
        })
        .collect();
    let products = v
        .by_product
        .iter()
        .map(|p| ProductFigures {
            code: p.code.clone(),
            name: p.name.clone(),
            licenses: STATUSES.map(|s| count(&p.licenses, s)),
            seats: p.seats,
        })
        .collect();
    let t = templates::Overview {
        chrome: d.v.chrome("overview"),
        notice: None,
        tiles,
        charts,
        days: days
            .iter()
            .map(|(day, c)| (day.clone(), c[0], c[1], c[2]))
            .collect(),
        refusals,
        expiring,
        expiring_more: v.expiring_more,
        products,
        as_of: page::when(now, now),
        summed_up: page::when(v.summary_at, now),
    };
    page::render(StatusCode::OK, &t)
}

/// A bar chart of series `i` of `days`: one bar per day, scaled to the largest.
fn chart(
    id: &'static str,
    title: &'static str,
    class: &'static str,
    days: &[(String, [u64; 3])],
    i: usize,
) -> Chart {
    let values: Vec<u64> = days.iter().map(|(_, c)| c[i]).collect();
    let max = values.iter().copied().max().unwrap_or(0);
    let slot = WIDTH / u32::try_from(values.len().max(1)).unwrap_or(1);
    let plot = HEIGHT;
    let bars = days
        .iter()
        .zip(&values)
        .enumerate()
        .map(|(k, ((day, _), &value))| {
            // At least a sliver for a day with any count, so that 1 among 10,000 shows.
            let h = match (value, max) {
                (0, _) | (_, 0) => 0,
                (v, m) => u32::try_from((u128::from(v) * u128::from(plot)) / u128::from(m))
                    .unwrap_or(plot)
                    .max(2),
            };
            Bar {
                x: u32::try_from(k).unwrap_or(0) * slot + 1,
                y: plot - h,
                w: slot.saturating_sub(2).max(1),
                h,
                label: format!("{day}: {value}"),
                value,
            }
        })
        .collect();
    Chart {
        id,
        title,
        class,
        total: values.iter().sum(),
        max,
        bars,
        width: WIDTH,
        height: HEIGHT,
        first: days.first().map(|d| d.0.clone()).unwrap_or_default(),
        last: days.last().map(|d| d.0.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(values: &[u64]) -> Vec<(String, [u64; 3])> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (format!("d{i}"), [v, 0, 0]))
            .collect()
    }

    #[test]
    fn bars_scale_to_the_largest_and_a_small_count_still_shows() {
        let c = chart("c", "C", "activation", &days(&[0, 10_000, 1, 5_000]), 0);
        assert_eq!(c.max, 10_000);
        assert_eq!(c.total, 15_001);
        let plot = HEIGHT;
        let h: Vec<u32> = c.bars.iter().map(|b| b.h).collect();
        assert_eq!(h, vec![0, plot, 2, plot / 2]);
        for b in &c.bars {
            assert_eq!(b.y + b.h, plot, "bars stand on the axis");
            assert!(b.x + b.w <= WIDTH);
        }
        assert_eq!(c.bars[1].label, "d1: 10000");
    }

    #[test]
    fn an_empty_chart_has_no_height() {
        let c = chart("c", "C", "activation", &days(&[0, 0]), 0);
        assert!(c.bars.iter().all(|b| b.h == 0));
        let c = chart("c", "C", "activation", &[], 0);
        assert!(c.bars.is_empty());
    }
}
