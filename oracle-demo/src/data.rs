//! The demo's data files, which model/train.py writes beside the model.

use serde::Deserialize;

/// model/rounds.json: the rounds the demo posts, and what made them.
#[derive(Deserialize)]
pub(crate) struct RoundsFile {
    pub(crate) meta: serde_json::Value,
    pub(crate) rounds: Vec<RoundRow>,
}

/// One row of model/rounds.json: the features of an hour and the prices around it.
#[derive(Clone, Debug, Deserialize)]
pub struct RoundRow {
    /// The hour of the synthetic series.
    pub hour: u64,
    /// The model's input: the features of that hour.
    pub features: Vec<f64>,
    /// The price at that hour, USD.
    pub price: f64,
    /// The price an hour later, which the model forecasts.
    pub next_price: f64,
}

/// model/calibration.json: the rows the model is calibrated on.
#[derive(Deserialize)]
pub(crate) struct InputFile {
    pub(crate) input_data: Vec<Vec<f64>>,
}
