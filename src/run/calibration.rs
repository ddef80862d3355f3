//! `calibration.json`: the temperature a run's logits are divided by and the top probability
//! below which a region is "not a digit" (`calibrate`), and what they were fitted on.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fs::bounded_read::read_at_most;
use crate::model::confidence::ConfidenceMap;
use crate::model::predict::Calibrated;
use crate::process::output::errln;
use crate::run::{ArtifactError, RunDir};

/// Largest `calibration.json` read: `calibrate` writes 300 bytes; one made a link to
/// `/dev/zero` or a huge file must not fill the memory before it is refused.
const MAX_CALIBRATION_BYTES: u64 = 1 << 20;

/// What `calibrate` found, as `calibration.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CalibrationRecord {
    /// The logits are divided by it before the softmax: above 1 the model was overconfident.
    pub temperature: f64,
    /// The held-out training images it was fitted on (the run's `valid_size`, drawn by its seed).
    pub held_out_images: usize,
    /// Their mean negative log-likelihood (natural log) before and after.
    pub nll_before: f64,
    /// See `nll_before`.
    pub nll_after: f64,
    /// Their expected calibration error (a fraction, 15 bins) before and after (the temperature
    /// and the top-probability map).
    pub ece_before: f64,
    /// See `ece_before`.
    pub ece_after: f64,
    /// A region whose top probability (as the calibrated probabilities say it: after the
    /// temperature and the top-probability map) is below this is "not a digit": a fraction,
    /// chosen so that `model::rejection::REFUSED_DIGITS` of the held-out images are refused.
    /// Absent from files written before it existed: such a run refuses nothing.
    #[serde(default)]
    pub not_a_digit_below: Option<f64>,
    /// The share of the held-out images (a fraction) refused: below `not_a_digit_below`,
    /// unsteady below `unsure_below`, read as nothing, or shaped like no digit.
    #[serde(default)]
    pub held_out_refused: Option<f64>,
    /// The share of the held-out images (a fraction) the network is silent on
    /// (`Model::forward_with_silence`): refused whatever the bounds, part of
    /// `held_out_refused`. Absent from files written before it existed.
    #[serde(default)]
    pub held_out_silent: Option<f64>,
    /// The share of the held-out images (a fraction) shaped like no digit (`model::shape`):
    /// refused whatever the bounds, part of `held_out_refused`; 0 for a dataset of other
    /// classes. Absent from files written before it existed.
    #[serde(default)]
    pub held_out_unlike: Option<f64>,
    /// A region read below this (top probability, a fraction, as the calibrated probabilities
    /// say it) is tested for steadiness (`model::steadiness`): 0.5 at the temperature, or lower
    /// so that the test alone refuses at most `model::rejection::REFUSED_DIGITS` of the
    /// held-out images, then moved by the top-probability map. Absent from files written
    /// before it existed: 0.5.
    #[serde(default)]
    pub unsure_below: Option<f64>,
    /// After the temperature, the top probability p becomes sigmoid(slope ln(p / r) +
    /// offset), r the sum of the others, the others scaled to sum to 1 (`model::confidence`). Absent from files written
    /// before it existed: no map.
    #[serde(default)]
    pub confidence_slope: Option<f64>,
    /// See `confidence_slope`.
    #[serde(default)]
    pub confidence_offset: Option<f64>,
    /// Their expected calibration error at the temperature alone, before the map.
    #[serde(default)]
    pub ece_at_temperature: Option<f64>,
}

impl CalibrationRecord {
    /// The top-probability map, when the record has one.
    pub(crate) fn confidence(&self) -> Option<ConfidenceMap> {
        Some(ConfidenceMap {
            slope: self.confidence_slope?,
            offset: self.confidence_offset?,
        })
    }
}

impl RunDir {
    /// `calibration.json`: the run's temperature, when `calibrate` has fitted one.
    pub fn calibration_json(&self) -> PathBuf {
        self.root().join("calibration.json")
    }

    /// The run's temperature; `None` when it has not been calibrated.
    ///
    /// # Errors
    /// [`ArtifactError::Io`] when it cannot be read, [`ArtifactError::Damaged`] when it is not
    /// such a record, [`ArtifactError::Temperature`] when its temperature is not one
    /// `calibrate` fits.
    pub(crate) fn load_calibration(&self) -> Result<Option<CalibrationRecord>, ArtifactError> {
        let path = self.calibration_json();
        let too_large = format!(
            "larger than {} MiB; calibrate writes a few hundred bytes",
            MAX_CALIBRATION_BYTES >> 20
        );
        let bytes = match read_at_most(&path, MAX_CALIBRATION_BYTES, &too_large) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(cause) => return Err(ArtifactError::Io { path, cause }),
        };
        let record: CalibrationRecord =
            serde_json::from_slice(&bytes).map_err(|cause| ArtifactError::Damaged {
                path: path.clone(),
                cause,
            })?;
        if !crate::model::temperature::plausible(record.temperature) {
            return Err(ArtifactError::Temperature {
                path,
                value: record.temperature,
            });
        }
        if let Some(threshold) = record
            .not_a_digit_below
            .filter(|&t| !crate::model::rejection::plausible(t))
        {
            return Err(ArtifactError::Threshold {
                path,
                value: threshold,
            });
        }
        if let Some(bound) = record
            .unsure_below
            .filter(|&b| !crate::model::rejection::plausible_bound(b))
        {
            return Err(ArtifactError::UnsureBound { path, value: bound });
        }
        if record.confidence_slope.is_some() != record.confidence_offset.is_some() {
            return Err(ArtifactError::HalfConfidenceMap { path });
        }
        if let Some(map) = record
            .confidence()
            .filter(|map| !ConfidenceMap::plausible(map.slope, map.offset))
        {
            return Err(ArtifactError::ConfidenceMap {
                path,
                slope: map.slope,
                offset: map.offset,
            });
        }
        Ok(Some(record))
    }

    /// How to read the model of `epoch` (`None`: `model.bpk`): with `calibration.json`'s
    /// temperature and threshold, fitted for `model.bpk`; as it is for a kept checkpoint's
    /// model (said on standard error when the run is calibrated: its answers would otherwise
    /// pass for calibrated ones), and for a run not calibrated.
    ///
    /// # Errors
    /// As [`RunDir::load_calibration`].
    pub(crate) fn calibrated(&self, epoch: Option<usize>) -> Result<Calibrated, ArtifactError> {
        if let Some(epoch) = epoch {
            if self.calibration_json().exists() {
                errln!(
                    "{}: epoch {epoch}'s model is used uncalibrated, without \"not a digit\": calibration.json is fitted for model.bpk alone (leave out --epoch to use it)",
                    self.root().display()
                );
            }
            return Ok(Calibrated::default());
        }
        Ok(self
            .load_calibration()?
            .map_or_else(Calibrated::default, |record| Calibrated {
                temperature: Some(record.temperature),
                not_a_digit_below: record.not_a_digit_below.map(|t| t as f32),
                unsure_below: record
                    .unsure_below
                    .map_or(Calibrated::default().unsure_below, |b| b as f32),
                confidence: record.confidence(),
            }))
    }

    /// Writes `calibration.json`, whole or not at all.
    ///
    /// # Errors
    /// [`ArtifactError::Io`] when it cannot be written.
    pub(crate) fn save_calibration(&self, record: &CalibrationRecord) -> Result<(), ArtifactError> {
        let json = serde_json::to_string_pretty(record).expect("a calibration record serializes");
        self.write_atomically(&self.calibration_json(), &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temperature_calibrate_could_not_have_fitted_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        assert_eq!(run.load_calibration().unwrap(), None);
        let record = |temperature: &str| {
            format!(
                "{{\"temperature\": {temperature}, \"held_out_images\": 10, \"nll_before\": 1, \
                 \"nll_after\": 1, \"ece_before\": 0.1, \"ece_after\": 0.1}}"
            )
        };
        for temperature in ["1e-308", "0", "-1.5", "1e39", "25", "1e308"] {
            std::fs::write(run.calibration_json(), record(temperature)).unwrap();
            let error = run.load_calibration().unwrap_err().to_string();
            assert!(
                error.starts_with(&format!(
                    "{}: temperature ",
                    run.calibration_json().display()
                )) && error.contains("not between 0.05 and 20"),
                "{temperature}: {error}"
            );
            // A huge or tiny number in exponent form: one line a terminal shows whole.
            assert!(error.len() < 300, "{error}");
        }
        std::fs::write(run.calibration_json(), record("\"NaN\"")).unwrap();
        assert!(matches!(
            run.load_calibration(),
            Err(ArtifactError::Damaged { .. })
        ));
        std::fs::write(run.calibration_json(), record("1.25")).unwrap();
        assert_eq!(run.load_calibration().unwrap().unwrap().temperature, 1.25);
        // A file written before the steadiness bound existed tests below 50%, as then.
        assert_eq!(run.calibrated(None).unwrap().unsure_below, 0.5);
        // A bound calibrate could not have chosen (not a probability) is refused by name.
        for bound in ["1.7", "-0.1"] {
            let with_bound = record("1.25").replace('}', &format!(", \"unsure_below\": {bound}}}"));
            std::fs::write(run.calibration_json(), with_bound).unwrap();
            let error = run.load_calibration().unwrap_err().to_string();
            assert!(
                error.contains(&format!("unsure_below {bound} is not a probability")),
                "{error}"
            );
        }
        // A top-probability map calibrate could not have fitted is refused by name too.
        let steep = record("1.25").replace(
            '}',
            ", \"confidence_slope\": 500, \"confidence_offset\": 0.5}",
        );
        std::fs::write(run.calibration_json(), steep).unwrap();
        let error = run.load_calibration().unwrap_err().to_string();
        assert!(
            error.contains("confidence_slope 500 and confidence_offset 0.5 are not"),
            "{error}"
        );
        // One that could put another class first (a negative offset) too.
        let lowering = record("1.25").replace(
            '}',
            ", \"confidence_slope\": 0.5, \"confidence_offset\": -20}",
        );
        std::fs::write(run.calibration_json(), lowering).unwrap();
        assert!(matches!(
            run.load_calibration(),
            Err(ArtifactError::ConfidenceMap { .. })
        ));
        // Half a map (the other number missing, null or misspelt) is refused, not dropped.
        for half in [
            ", \"confidence_slope\": 0.5}",
            ", \"confidence_slope\": 0.5, \"confidence_offset\": null}",
            ", \"confidence_offset\": 0.5, \"Confidence_Slope\": 0.5}",
        ] {
            std::fs::write(run.calibration_json(), record("1.25").replace('}', half)).unwrap();
            let error = run.load_calibration().unwrap_err().to_string();
            assert!(error.contains("go together"), "{half}: {error}");
        }
        let chosen = record("1.25").replace('}', ", \"unsure_below\": 0.38}");
        std::fs::write(run.calibration_json(), chosen).unwrap();
        assert_eq!(run.calibrated(None).unwrap().unsure_below, 0.38);
    }

    #[test]
    fn a_calibration_file_too_large_to_be_one_is_refused_unread_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        // Valid JSON, padded past the limit: read whole it would parse.
        let padded = format!(
            "{}{{\"temperature\": 1.25, \"held_out_images\": 10, \"nll_before\": 1, \
             \"nll_after\": 1, \"ece_before\": 0.1, \"ece_after\": 0.1}}",
            " ".repeat(MAX_CALIBRATION_BYTES as usize)
        );
        std::fs::write(run.calibration_json(), padded).unwrap();
        let error = run.load_calibration().unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: larger than 1 MiB; calibrate writes a few hundred bytes",
                run.calibration_json().display()
            )
        );
    }
}
