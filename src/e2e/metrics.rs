//! `/metrics` read as Prometheus reads it.

use std::collections::HashMap;
use std::net::SocketAddr;

use prometheus_parse::{Scrape, Value};

use crate::common::client;

/// Scrapes the box and parses the text with a Prometheus parser; every
/// sample by name and labels (`name{k="v"}`, labels sorted).
pub async fn scrape(https: SocketAddr) -> HashMap<String, f64> {
    let response = client().get(format!("https://{https}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = response.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text format");
    let mut samples = HashMap::new();
    for s in scrape.samples {
        let mut labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        labels.sort();
        let key = if labels.is_empty() { s.metric.clone() } else { format!("{}{{{}}}", s.metric, labels.join(",")) };
        let value = match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            other => panic!("{key}: unexpected {other:?}"),
        };
        samples.insert(key, value);
    }
    assert!(!scrape.docs.is_empty(), "HELP lines");
    samples
}
