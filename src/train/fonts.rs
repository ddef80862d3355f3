//! What `font_digits` and `font_outliers` draw in Debian's fonts for a run, before it trains.

use crate::data::IMAGE_PIXELS;
use crate::data::idx::LabelledImages;
use crate::model::summary::{counted, grouped};
use crate::picture::font_digits::{DigitFonts, FontPrints, Undrawn};
use crate::process::output::errln;
use crate::run::data_record::DataRecord;
use crate::train::{TrainError, TrainRequest};

/// What the fonts drew for a run: `font_digits` digits and `font_outliers` letters and
/// symbols, and the fonts' names and fingerprints for `data.json` (none when it asks for
/// neither).
pub(super) struct DrawnInFonts {
    /// Digits to train on, after the dataset's own; `None` when it asks for none.
    pub(super) digits: Option<LabelledImages>,
    /// Letters and symbols, outliers for Outlier Exposure.
    pub(super) outliers: Vec<[u8; IMAGE_PIXELS]>,
    /// The fonts drawn in.
    pub(super) prints: FontPrints,
}

/// The config's `font_digits` digits and `font_outliers` letters and symbols, drawn in the
/// fonts of [`DigitFonts::load`] (a resumed run's `recorded` ones, checked).
///
/// # Errors
/// The fonts cannot be had or differ from the recorded ones; a glyph cannot be drawn; a stop
/// signal arrived while drawing ([`TrainError::StoppedBeforeTraining`]).
pub(super) fn drawn_in_fonts(
    request: &TrainRequest,
    recorded: Option<&DataRecord>,
) -> Result<DrawnInFonts, TrainError> {
    let (digits, outliers) = (request.config.font_digits, request.config.font_outliers);
    if digits == 0 && outliers == 0 {
        return Ok(DrawnInFonts {
            digits: None,
            outliers: Vec::new(),
            prints: Vec::new(),
        });
    }
    // A resumed run draws in exactly the fonts it recorded (fonts installed since would
    // change its glyphs); one that recorded none predates the record and is checked against
    // every font, as it must have drawn in them all.
    let fonts = match recorded.filter(|record| !record.fonts.is_empty()) {
        Some(record) => DigitFonts::load_named(record.fonts.keys())?,
        None => DigitFonts::load()?,
    };
    if let Some(recorded) = recorded {
        recorded.check_fonts(&request.run, &fonts.prints)?;
    }
    // Seconds of work before the run's first line: said, and stoppable.
    errln!("{}", drawing(digits, outliers, fonts.prints.len()));
    let stopped = || request.signals.stopped_by();
    let failed = |undrawn| match undrawn {
        Undrawn::Stopped(signal) => TrainError::StoppedBeforeTraining { signal },
        Undrawn::Failed(error) => TrainError::Fonts(error),
    };
    let seed = request.config.seed;
    Ok(DrawnInFonts {
        digits: match digits {
            0 => None,
            _ => Some(fonts.draw(digits, seed, &stopped).map_err(failed)?),
        },
        outliers: fonts
            .draw_outliers(outliers, seed, &stopped)
            .map_err(failed)?,
        prints: fonts.prints,
    })
}

/// What is about to be drawn, naming the settings that ask for it: "font_digits and
/// font_outliers: drawing 12,000 digits and 12,000 letters and symbols in 87 fonts".
fn drawing(digits: usize, outliers: usize, fonts: usize) -> String {
    let asked: Vec<(&str, String)> = [
        (digits > 0).then(|| ("font_digits", counted(digits as u64, "digit"))),
        (outliers > 0).then(|| {
            let letters = format!("{} letters and symbols", grouped(outliers as u64));
            ("font_outliers", letters)
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    let (settings, what): (Vec<&str>, Vec<String>) = asked.into_iter().unzip();
    format!(
        "{}: drawing {} in {fonts} fonts",
        settings.join(" and "),
        what.join(" and ")
    )
}
