//! Digits drawn in the fonts of a few Debian packages and prepared exactly as a person's
//! picture is, added to a run's training images (`font_digits`): MNIST's 250 writers are one
//! kind of hand, and a model that knows only theirs reads a digit of another style as unsure
//! as a letter. Measured in `docs/measurements.md` ("Digits drawn in fonts"): the fonts are
//! none of those `bench/real_pictures.py` draws its pictures in.
//!
//! The same fonts draw letters and symbols as outliers for Outlier Exposure (`font_outliers`,
//! `data::outliers`): a model shown only made-up non-digits reads a printed A as a 4 at 99%.
//!
//! Each glyph is rendered black on white at 28 to 200 pixels tall, turned up to 6° either way
//! and prepared by [`prepare_digits`]: the same ink finding, pen width, 20×20 box and centre of
//! mass as `infer`'s. Deterministic: glyph `n` depends only on the seed, `n` and the fonts, so
//! a resumed run draws exactly the same ones, whatever the thread count.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, PxScale, point};
use image::{DynamicImage, GrayImage, Luma};
use imageproc::geometric_transformations::{Interpolation, rotate_about_center};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use crate::data::IMAGE_PIXELS;
use crate::data::idx::{Fingerprint, LabelledImages};
use crate::picture::prepare_digits;

/// Where Debian installs fonts.
const FONT_ROOT: &str = "/usr/share/fonts";

/// The folders under [`FONT_ROOT`] whose fonts draw the digits, each with the Debian packages
/// that fill it. Every font file (`.ttf`, `.otf`) in them that has all ten digits is used.
pub(crate) const FONT_FOLDERS: &[(&str, &str)] = &[
    ("truetype/dejavu", "fonts-dejavu-core fonts-dejavu-extra"),
    ("truetype/liberation", "fonts-liberation"),
    ("opentype/urw-base35", "fonts-urw-base35"),
    ("truetype/femkeklaver", "fonts-femkeklaver"),
    ("opentype/havana", "fonts-havana"),
    ("truetype/klee", "fonts-klee"),
    ("truetype/seto", "fonts-seto"),
    ("truetype/kiloji", "fonts-kiloji"),
    ("opentype/lobster", "fonts-lobster"),
    ("truetype/leckerli-one", "fonts-leckerli-one"),
    ("truetype/yusei-magic", "fonts-yusei-magic"),
    ("truetype/ecolier-court", "fonts-ecolier-court"),
    ("truetype/tomsontalks", "fonts-tomsontalks"),
];

/// The letters and symbols `font_outliers` draws: Latin letters but those a digit is written
/// like (B b D G g I i l O o q S s Z z: a handwritten O is a 0, an S a 5), and symbols none of
/// which is a digit's look-alike. Taught as outliers, a look-alike would teach the model to
/// doubt the digit it looks like.
pub(crate) const OUTLIER_GLYPHS: &str =
    "ACEFHJKLMNPQRTUVWXYacdefhjkmnprtuvwxy+=#@&%?!*$<>~^×÷§¶€£¥©®∞≈≠±√∑∫πΩµ";

/// The largest font file read: the largest of these fonts (Klee, Japanese) is 21 MiB.
const MAX_FONT_BYTES: u64 = 64 << 20;

/// A digit's height in pixels: from a low-resolution scan's to a photo's.
const HEIGHTS: std::ops::Range<f32> = 28.0..200.0;

/// The most a digit is turned either way, in degrees (as `bench/real_pictures.py` tilts its
/// fonts' glyphs).
const MAX_TILT_DEGREES: f32 = 6.0;

/// Font files whose code points for "0" to "9" draw pictures, not digits: URW's Dingbats.
const PICTURE_FONTS: &[&str] = &["D050000L.otf"];

/// Tries at drawing one digit (each another font, size and tilt) before giving up on it.
const TRIES: usize = 32;

/// Why the fonts could not be had, or the digits not drawn.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FontError {
    /// Folders of [`FONT_FOLDERS`] missing or without a font: their packages are not
    /// installed. All of them are named, so that one command installs what is missing.
    #[error(
        "font_digits and font_outliers draw in Debian's fonts, but no font is in {folders}: apt-get install -y {packages}, or train with --font-digits 0 --font-outliers 0"
    )]
    Missing {
        /// The folders, joined by commas.
        folders: String,
        /// Their packages, joined by spaces.
        packages: String,
    },
    /// The folders hold no font that draws the ten digits.
    #[error(
        "font_digits and font_outliers: no font under {FONT_ROOT} draws the ten digits; install the packages the README names, or train with --font-digits 0 --font-outliers 0"
    )]
    NoDigits,
    /// A font file could not be read or parsed.
    #[error("font_digits and font_outliers: {}: {cause}", path.display())]
    Unreadable { path: PathBuf, cause: String },
    /// No font drew this digit, or any letter or symbol, as one piece of ink in [`TRIES`]
    /// tries.
    #[error(
        "{setting}: none of these fonts drew {what} that reads as one region in {TRIES} tries (font files: {fonts})"
    )]
    Undrawable {
        /// The setting that asked for it: `font_digits` or `font_outliers`.
        setting: &'static str,
        /// What was drawn: "a 7", "a letter or symbol".
        what: String,
        /// The font files tried, joined by commas.
        fonts: String,
    },
}

/// Fonts by name (their path under [`FONT_ROOT`]) and fingerprint, as `data.json` records them.
pub(crate) type FontPrints = Vec<(String, Fingerprint)>;

/// Why [`DigitFonts::draw`] drew no digits.
#[derive(Debug)]
pub(crate) enum Undrawn<S> {
    /// The caller's `stopped` gave this (a stop signal).
    Stopped(S),
    /// A digit could not be drawn.
    Failed(FontError),
}

/// The fonts digits are drawn in, each with its name (its path under [`FONT_ROOT`]) and
/// fingerprint (recorded in the run's `data.json`, checked when it resumes).
pub(crate) struct DigitFonts {
    fonts: Vec<FontVec>,
    /// In the order of `fonts`.
    pub(crate) prints: FontPrints,
}

impl DigitFonts {
    /// Every font of [`FONT_FOLDERS`] that draws the ten digits, in the order of their paths.
    ///
    /// # Errors
    /// [`FontError::Missing`] naming every folder absent or without a font, with its
    /// packages; [`FontError::Unreadable`] for a font file that cannot be read or parsed;
    /// [`FontError::NoDigits`] when none draws the digits.
    pub(crate) fn load() -> Result<Self, FontError> {
        let fonts = Self::read(font_files(Path::new(FONT_ROOT))?)?;
        match fonts.fonts.is_empty() {
            true => Err(FontError::NoDigits),
            false => Ok(fonts),
        }
    }

    /// Those of the font files `names` (paths under [`FONT_ROOT`], as `data.json` records
    /// them) that are there, in the order given: a resumed run draws in the fonts it began
    /// with, whatever fonts were installed since. Whether one is gone or changed is the
    /// caller's to judge from [`DigitFonts::prints`].
    ///
    /// # Errors
    /// [`FontError::Unreadable`] for a font file that cannot be read or parsed.
    pub(crate) fn load_named<'a>(
        names: impl Iterator<Item = &'a String>,
    ) -> Result<Self, FontError> {
        let there = names.filter(|name| Path::new(FONT_ROOT).join(name).is_file());
        Self::read(there.cloned().collect())
    }

    /// The fonts of `files` (paths under [`FONT_ROOT`]) that draw the ten digits, perhaps none.
    fn read(files: Vec<String>) -> Result<Self, FontError> {
        let read = files.into_iter().map(|name| {
            let path = Path::new(FONT_ROOT).join(&name);
            let bytes = crate::fs::bounded_read::read_at_most(
                &path,
                MAX_FONT_BYTES,
                "larger than any font these packages ship",
            )
            .map_err(|e| FontError::Unreadable {
                path,
                cause: e.to_string(),
            })?;
            Ok((name, bytes))
        });
        Self::from_files(read.collect::<Result<Vec<_>, FontError>>()?)
    }

    /// The fonts of `files` (`(name, contents)`) that draw the ten digits, in that order.
    ///
    /// # Errors
    /// [`FontError::Unreadable`] for contents that are not a font.
    pub(crate) fn from_files(files: Vec<(String, Vec<u8>)>) -> Result<Self, FontError> {
        let mut fonts = Self {
            fonts: Vec::new(),
            prints: Vec::new(),
        };
        for (name, bytes) in files {
            let print = Fingerprint::of(&bytes);
            let font = FontVec::try_from_vec(bytes).map_err(|_| FontError::Unreadable {
                path: Path::new(FONT_ROOT).join(&name),
                cause: "not a font (TrueType or OpenType) that can be read".to_string(),
            })?;
            let pictures = PICTURE_FONTS.iter().any(|file| name.ends_with(file));
            // A font without the digits would draw its empty box for them.
            if !pictures && ('0'..='9').all(|digit| font.glyph_id(digit).0 != 0) {
                fonts.prints.push((name, print));
                fonts.fonts.push(font);
            }
        }
        Ok(fonts)
    }

    /// `count` digits, digit `n` of class `n % 10`, each in MNIST's layout as `infer` prepares
    /// a picture of it, drawn by `seed`. A drawing that does not come out as one digit (a
    /// glyph in pieces far apart) is drawn again, in another font, size and tilt.
    ///
    /// # Errors
    /// [`Undrawn::Stopped`] with what `stopped` gave once it gives something (a stop signal:
    /// drawing a reader's 12,000 takes seconds); [`Undrawn::Failed`] with
    /// [`FontError::Undrawable`] when a digit does not come out as one in [`TRIES`] tries.
    pub(crate) fn draw<S: Send>(
        &self,
        count: usize,
        seed: u64,
        stopped: &(dyn Fn() -> Option<S> + Sync),
    ) -> Result<LabelledImages, Undrawn<S>> {
        let drawn = self.draw_each(
            count,
            seed.rotate_left(17),
            stopped,
            |n, _| char::from(b'0' + (n % 10) as u8),
            |n| self.undrawable("font_digits", format!("a {}", n % 10)),
        )?;
        let labels = (0..count).map(|n| (n % 10) as u8).collect();
        let pixels = drawn.into_iter().flatten().collect();
        Ok(LabelledImages::from_parts(pixels, labels).expect("784 pixels per label"))
    }

    /// `count` letters and symbols (none a digit's look-alike: [`OUTLIER_GLYPHS`]), each in
    /// MNIST's layout as `infer` prepares a region of a picture, drawn by `seed`: outliers for
    /// Outlier Exposure (`font_outliers`, `data::outliers`). A glyph a font lacks, or one that
    /// does not come out as one region, is drawn again (another glyph, font, size and tilt).
    ///
    /// # Errors
    /// As [`DigitFonts::draw`]'s, [`FontError::Undrawable`] when none comes out in [`TRIES`]
    /// tries.
    pub(crate) fn draw_outliers<S: Send>(
        &self,
        count: usize,
        seed: u64,
        stopped: &(dyn Fn() -> Option<S> + Sync),
    ) -> Result<Vec<[u8; IMAGE_PIXELS]>, Undrawn<S>> {
        let glyphs: Vec<char> = OUTLIER_GLYPHS.chars().collect();
        // Another stream than the digits' (`draw`); a glyph drawn afresh at each try.
        self.draw_each(
            count,
            seed.rotate_left(29),
            stopped,
            |_, rng| glyphs[rng.random_range(0..glyphs.len())],
            |_| self.undrawable("font_outliers", "a letter or symbol".to_string()),
        )
    }

    /// `count` glyphs in MNIST's layout, in parallel: glyph `n` is `glyph(n, rng)` drawn by
    /// [`DigitFonts::draw_one`] from its own stream (`seed ^ n`), tried again up to [`TRIES`]
    /// times (the glyph asked again each time); `undrawable(n)` is the error when none comes
    /// out.
    ///
    /// # Errors
    /// As [`DigitFonts::draw`]'s.
    fn draw_each<S: Send>(
        &self,
        count: usize,
        seed: u64,
        stopped: &(dyn Fn() -> Option<S> + Sync),
        glyph: impl Fn(usize, &mut StdRng) -> char + Sync,
        undrawable: impl Fn(usize) -> FontError + Sync,
    ) -> Result<Vec<[u8; IMAGE_PIXELS]>, Undrawn<S>> {
        (0..count)
            .into_par_iter()
            .map(|n| {
                if let Some(reason) = stopped() {
                    return Err(Undrawn::Stopped(reason));
                }
                let mut rng = StdRng::seed_from_u64(seed ^ n as u64);
                (0..TRIES)
                    .find_map(|_| {
                        let glyph = glyph(n, &mut rng);
                        self.draw_one(glyph, &mut rng)
                    })
                    .ok_or_else(|| Undrawn::Failed(undrawable(n)))
            })
            .collect()
    }

    /// [`FontError::Undrawable`] for `what`, asked for by `setting`, naming every font.
    fn undrawable(&self, setting: &'static str, what: String) -> FontError {
        FontError::Undrawable {
            setting,
            what,
            fonts: (self.prints.iter().map(|(name, _)| name.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// `glyph` in a font, size and tilt drawn from `rng`, prepared; `None` when the font has
    /// no such glyph or it does not come out as one region.
    fn draw_one(&self, glyph: char, rng: &mut StdRng) -> Option<[u8; IMAGE_PIXELS]> {
        let font = self
            .fonts
            .get(rng.random_range(0..self.fonts.len().max(1)))?;
        if font.glyph_id(glyph).0 == 0 {
            return None;
        }
        let height = rng.random_range(HEIGHTS);
        let tilt = rng
            .random_range(-MAX_TILT_DEGREES..MAX_TILT_DEGREES)
            .to_radians();
        let mut picture = rotate_about_center(
            &glyph_ink(font, glyph, height)?,
            tilt,
            Interpolation::Bilinear,
            Luma([0]),
        );
        // Black ink on white paper, as a picture of it would be.
        image::imageops::invert(&mut picture);
        match prepare_digits(&DynamicImage::ImageLuma8(picture), true)
            .ok()?
            .as_slice()
        {
            [digit] => Some(digit.pixels),
            _ => None,
        }
    }
}

/// The font files (`.ttf`, `.otf`) of [`FONT_FOLDERS`] under `root`, as paths under it, sorted.
///
/// # Errors
/// [`FontError::Missing`] naming every folder missing or without a font, and its packages.
fn font_files(root: &Path) -> Result<Vec<String>, FontError> {
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for &(folder, packages) in FONT_FOLDERS {
        let fonts: Vec<String> = std::fs::read_dir(root.join(folder))
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let file = entry.ok()?.file_name().into_string().ok()?;
                let font = file.ends_with(".ttf") || file.ends_with(".otf");
                font.then(|| format!("{folder}/{file}"))
            })
            .collect();
        if fonts.is_empty() {
            missing.push((root.join(folder), packages));
        }
        files.extend(fonts);
    }
    if !missing.is_empty() {
        let folders = missing
            .iter()
            .map(|(folder, _)| folder.display().to_string());
        let packages = missing.iter().map(|(_, packages)| *packages);
        return Err(FontError::Missing {
            folders: folders.collect::<Vec<_>>().join(", "),
            packages: packages.collect::<Vec<_>>().join(" "),
        });
    }
    files.sort();
    Ok(files)
}

/// `glyph` (a digit, letter or symbol) in `font`, `height` pixels tall, as ink (255) on a
/// black canvas with a margin that a turn of a few degrees keeps the ink inside.
fn glyph_ink(font: &FontVec, glyph: char, height: f32) -> Option<GrayImage> {
    // Size the em so that the glyph's own outline is `height` tall.
    let probe = font.outline_glyph(font.glyph_id(glyph).with_scale(PxScale::from(100.0)))?;
    let scale = 100.0 * height / probe.px_bounds().height().max(1.0);
    let positioned = font
        .glyph_id(glyph)
        .with_scale_and_position(PxScale::from(scale), point(0.0, 0.0));
    let outline = font.outline_glyph(positioned)?;
    let bounds = outline.px_bounds();
    let margin = (0.2 * bounds.width().max(bounds.height())).ceil() as u32 + 4;
    let (width, tall) = (bounds.width().ceil() as u32, bounds.height().ceil() as u32);
    let mut canvas = GrayImage::new(width + 2 * margin, tall + 2 * margin);
    outline.draw(|x, y, coverage| {
        let (x, y) = (x + margin, y + margin);
        if x < canvas.width() && y < canvas.height() {
            canvas.put_pixel(
                x,
                y,
                Luma([(coverage.clamp(0.0, 1.0) * 255.0).round() as u8]),
            );
        }
    });
    Some(canvas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_SIDE;

    /// The DejaVu Sans the plots embed (`assets/fonts/`), so that the unit tests need no
    /// installed font.
    fn dejavu() -> DigitFonts {
        let bytes = include_bytes!("../../assets/fonts/DejaVuSans.ttf").to_vec();
        DigitFonts::from_files(vec![("truetype/dejavu/DejaVuSans.ttf".into(), bytes)])
            .expect("a font")
    }

    #[test]
    fn font_digits_are_drawn_the_same_for_a_seed_and_laid_out_as_mnists() {
        let fonts = dejavu();
        let draw = |seed| fonts.draw(40, seed, &|| None::<()>).expect("drawn");
        let drawn = draw(7);
        assert_eq!(drawn.len(), 40);
        assert_eq!(drawn.pixels(), draw(7).pixels());
        assert_ne!(drawn.pixels(), draw(8).pixels());
        assert!(
            matches!(fonts.draw(40, 7, &|| Some(())), Err(Undrawn::Stopped(()))),
            "a stop ends it"
        );
        assert!(drawn.labels().iter().take(10).copied().eq(0..10u8));
        for image in drawn.pixels().chunks_exact(IMAGE_PIXELS) {
            // Ink inside, a black border outside MNIST's 20×20 box (give or take the pen).
            assert!(image.iter().filter(|&&p| p > 127).count() >= 20);
            let border = (0..IMAGE_SIDE).flat_map(|i| [i, IMAGE_PIXELS - 1 - i]);
            assert!(border.map(|at| image[at]).all(|p| p == 0));
        }
    }

    #[test]
    fn letters_and_symbols_drawn_as_outliers_are_no_digits_look_alikes_and_the_same_for_a_seed() {
        for glyph in "0123456789BbDGgIilOoqSsZz".chars() {
            assert!(
                !OUTLIER_GLYPHS.contains(glyph),
                "{glyph} is drawn as an outlier"
            );
        }
        let fonts = dejavu();
        let draw = |seed| {
            fonts
                .draw_outliers(30, seed, &|| None::<()>)
                .expect("drawn")
        };
        let drawn = draw(7);
        assert_eq!(drawn.len(), 30);
        assert_eq!(drawn, draw(7));
        assert_ne!(drawn, draw(8));
        for image in &drawn {
            assert!(image.iter().filter(|&&p| p > 127).count() >= 10);
        }
    }

    #[test]
    fn every_font_package_is_installed_by_ci() {
        let ci = include_str!("../../.ci/run");
        for package in FONT_FOLDERS
            .iter()
            .flat_map(|(_, packages)| packages.split(' '))
        {
            assert!(
                ci.contains(&format!(" {package}")),
                "{package} not in .ci/run"
            );
        }
    }

    #[test]
    fn every_missing_or_empty_font_folder_is_named_with_its_packages_in_one_line() {
        let root = tempfile::tempdir().unwrap();
        for (folder, _) in &FONT_FOLDERS[1..] {
            std::fs::create_dir_all(root.path().join(folder)).unwrap();
            std::fs::write(root.path().join(folder).join("a.ttf"), b"").unwrap();
        }
        // The first folder is missing, the last holds no font.
        let (last, last_packages) = FONT_FOLDERS[FONT_FOLDERS.len() - 1];
        std::fs::remove_file(root.path().join(last).join("a.ttf")).unwrap();
        std::fs::write(root.path().join(last).join("notes.txt"), b"").unwrap();
        let err = font_files(root.path()).unwrap_err().to_string();
        let (first, first_packages) = FONT_FOLDERS[0];
        let folders = format!(
            "{}, {}",
            root.path().join(first).display(),
            root.path().join(last).display()
        );
        assert_eq!(
            err,
            format!(
                "font_digits and font_outliers draw in Debian's fonts, but no font is in {folders}: apt-get install -y {first_packages} {last_packages}, or train with --font-digits 0 --font-outliers 0"
            )
        );
        std::fs::create_dir_all(root.path().join(first)).unwrap();
        std::fs::write(root.path().join(first).join("b.otf"), b"").unwrap();
        std::fs::write(root.path().join(last).join("c.ttf"), b"").unwrap();
        let files = font_files(root.path()).unwrap();
        assert_eq!(files.len(), FONT_FOLDERS.len());
        assert!(files.windows(2).all(|pair| pair[0] < pair[1]), "{files:?}");
    }

    #[test]
    fn a_font_of_pictures_is_left_out_and_one_not_a_font_is_refused_by_name() {
        // Dingbats maps its pictures to the digits' code points: left out by its name.
        let bytes = include_bytes!("../../assets/fonts/DejaVuSans.ttf").to_vec();
        let name = "opentype/urw-base35/D050000L.otf".to_string();
        let fonts = DigitFonts::from_files(vec![(name, bytes)]).expect("left out, no error");
        assert!(fonts.prints.is_empty());
        let broken = vec![("x/broken.ttf".to_string(), b"not a font".to_vec())];
        let err = DigitFonts::from_files(broken).err().expect("refused");
        assert_eq!(
            err.to_string(),
            "font_digits and font_outliers: /usr/share/fonts/x/broken.ttf: not a font (TrueType or OpenType) that can be read"
        );
    }
}
