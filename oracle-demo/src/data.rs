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
    pub hour: u64,
    pub features: Vec<f64>,
    pub price: f64,
    pub next_price: f64,
}

/// model/calibration.json: the rows the model is calibrated on.
#[derive(Deserialize)]
pub(crate) struct InputFile {
    pub(crate) input_data: Vec<Vec<f64>>,
}
