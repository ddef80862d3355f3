//! The paper's own brightness under the picture's lighting: a smooth surface (a quadratic in x
//! and y) fitted to the picture by least squares, the ink left out. A quadratic follows light
//! falling off across a page and a lamp's vignette, and unlike a local filter it is not pulled
//! towards the image's edges. The ink is found by fitting again without the pixels well below
//! the surface (a robust fit, as document binarisation does with background surfaces).
//!
//! A digit cut out to its ink (a digit cropped from a form, no paper around it) defeats the fit:
//! ink covers much of the picture, the first fit is pulled down to it, no pixel lies far enough
//! below it to be left out, and the quadratic bends to the strokes' shape (under a stroke that
//! crosses the picture there is no paper to hold it up). The strokes' cores then count as paper
//! and the paper at the picture's edges as ink: the digit fell apart into several. Such a
//! surface lies under the paper beside the strokes, which paper never does; where the picture
//! is also cut to its ink, on evenly lit paper, the paper is taken as even, at the brightness of
//! its brightest pixels and those close to them.

use image::GrayImage;

/// How many times the ink is left out and the surface fitted again.
const ROUNDS: usize = 4;
/// A pixel more than this many robust deviations below the surface is ink, not paper.
const INK_DEVIATIONS: f64 = 2.5;
/// A pixel brighter than a surface by more than this share of the surface's brightness stands
/// above it: as far above as the faintest ink lies below the paper (`ink.rs`'s `MIN_CONTRAST`).
const STANDS_ABOVE: f64 = 0.15;
/// A surface more than this share of the picture stands above lies under the paper, not on it:
/// the paper is the brightest thing on a page (a glint or JPEG ringing is a few pixels). On
/// `bench/real_pictures.py`'s pictures (seed 1), at most 0.6% stand above the quadratic where it
/// fits, 1.3% to 50% where it bent to the ink.
const MOST_ABOVE: f64 = 0.01;
/// The brightest share of the picture an evenly lit paper's brightness is first taken from: in
/// 95 of 100 digits cut out to their ink, an eighth of the picture or more is paper.
const BRIGHTEST_SHARE: f64 = 0.05;
/// A picture with ink on at least this share of its outermost pixels may be cut to its ink: a
/// digit cut out so has ink on a fifth of them or more (95 in 100), a digit on a page (the
/// bench's photos, scans, canvas exports) on 3% at most.
const EDGE_INK: f64 = 0.1;
/// The share of a picture's width and height, from a corner, in which the paper around a digit
/// cut out to its ink shows near that corner (in 186 to 193 of 200 such digits). Light falling
/// off across the page by more than a quarter leaves the darkest corner's share without paper
/// that bright (198 of the bench's 200 pictures in uneven light, 35% to 50% darker across).
const CORNER: f64 = 0.4;

/// The paper's brightness (0-255) at each pixel of `grey`, ink darker than the paper.
pub(super) struct PaperSurface {
    /// The quadratic's coefficients, for the terms of [`PaperSurface::terms`].
    coefficients: [f64; 6],
    /// The picture's width, in pixels.
    width: f64,
    /// The picture's height, in pixels.
    height: f64,
}

impl PaperSurface {
    /// Fits the surface to `grey` (a small picture: every pixel is a sample): the quadratic, or
    /// an even brightness where the quadratic lies under the paper of a picture cut to its ink.
    pub(super) fn fit(grey: &GrayImage) -> Self {
        let curved = Self::curved(grey);
        if !curved.under_the_paper(grey) {
            return curved;
        }
        let even = Self::even(grey);
        if even.under_the_paper(grey) || !even.cut_to_its_ink(grey) {
            // A bold digit filling a picture with paper around it, or in uneven light: the
            // quadratic is kept, as it always was.
            return curved;
        }
        even
    }

    /// The quadratic fitted robustly: fitted to all the pixels, then again without those well
    /// below it, [`ROUNDS`] times.
    fn curved(grey: &GrayImage) -> Self {
        let (width, height) = (f64::from(grey.width()), f64::from(grey.height()));
        let mut surface = Self {
            coefficients: [0.0; 6],
            width,
            height,
        };
        let samples: Vec<([f64; 6], f64)> = grey
            .enumerate_pixels()
            .map(|(x, y, p)| (surface.terms(f64::from(x), f64::from(y)), f64::from(p.0[0])))
            .collect();
        let mut paper = vec![true; samples.len()];
        for _ in 0..ROUNDS {
            let Some(coefficients) = least_squares(&samples, &paper) else {
                break;
            };
            surface.coefficients = coefficients;
            let residuals: Vec<f64> = samples
                .iter()
                .map(|(terms, level)| level - dot(terms, &coefficients))
                .collect();
            let spread = robust_deviation(&residuals, &paper).max(1.0);
            for (keep, residual) in paper.iter_mut().zip(&residuals) {
                *keep = *residual > -INK_DEVIATIONS * spread;
            }
        }
        surface
    }

    /// An even brightness fitted robustly: the mean of the brightest [`BRIGHTEST_SHARE`] of the
    /// pixels, then of those not well below it, [`ROUNDS`] times. Started from the brightest:
    /// the mean of all the pixels is the ink's where ink covers most of the picture.
    fn even(grey: &GrayImage) -> Self {
        let levels: Vec<f64> = grey.pixels().map(|p| f64::from(p.0[0])).collect();
        let mut sorted = levels.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        let start = sorted
            .get(((1.0 - BRIGHTEST_SHARE) * sorted.len() as f64) as usize)
            .copied()
            .unwrap_or(0.0);
        // The brightest pixel is always kept: its residual is never negative.
        let mut paper: Vec<bool> = levels.iter().map(|&level| level >= start).collect();
        let mut brightness = start;
        for _ in 0..ROUNDS {
            let kept: Vec<f64> = levels
                .iter()
                .zip(&paper)
                .filter(|(_, keep)| **keep)
                .map(|(level, _)| *level)
                .collect();
            brightness = kept.iter().sum::<f64>() / kept.len().max(1) as f64;
            let residuals: Vec<f64> = levels.iter().map(|level| level - brightness).collect();
            let spread = robust_deviation(&residuals, &paper).max(1.0);
            for (keep, residual) in paper.iter_mut().zip(&residuals) {
                *keep = *residual > -INK_DEVIATIONS * spread;
            }
        }
        Self {
            coefficients: [brightness, 0.0, 0.0, 0.0, 0.0, 0.0],
            width: f64::from(grey.width()),
            height: f64::from(grey.height()),
        }
    }

    /// Whether more than [`MOST_ABOVE`] of `grey`'s pixels stand above the surface (brighter by
    /// [`STANDS_ABOVE`] of its brightness): then it lies under the paper.
    fn under_the_paper(&self, grey: &GrayImage) -> bool {
        let above = grey
            .enumerate_pixels()
            .filter(|(x, y, p)| {
                let surface = self.at(f64::from(*x), f64::from(*y));
                f64::from(p.0[0]) - surface > STANDS_ABOVE * surface.max(0.0)
            })
            .count();
        above as f64 > MOST_ABOVE * f64::from(grey.width() * grey.height())
    }

    /// Whether `grey` is a piece cut out to its ink on paper of this even brightness: ink on
    /// [`EDGE_INK`] of its outermost pixels, and the paper seen near each corner. Light falling
    /// off across a page leaves a corner darker than the paper; a page on a table has table in
    /// its corners.
    fn cut_to_its_ink(&self, grey: &GrayImage) -> bool {
        self.paper_near_each_corner(grey) && self.edge_ink(grey) >= EDGE_INK
    }

    /// Whether `grey` is this paper at a pixel: no darker than it by [`STANDS_ABOVE`].
    fn is_paper(&self, grey: &GrayImage, x: u32, y: u32) -> bool {
        f64::from(grey.get_pixel(x, y).0[0]) >= (1.0 - STANDS_ABOVE) * self.coefficients[0]
    }

    /// Whether the paper shows near each of `grey`'s corners, in the [`CORNER`] of its width and
    /// height nearest the corner.
    fn paper_near_each_corner(&self, grey: &GrayImage) -> bool {
        let (width, height) = grey.dimensions();
        let near = |length: u32| ((CORNER * f64::from(length)).ceil() as u32).clamp(1, length);
        let (across, down) = (near(width), near(height));
        [
            (0, 0),
            (width - across, 0),
            (0, height - down),
            (width - across, height - down),
        ]
        .iter()
        .all(|&(left, top)| {
            (left..left + across).any(|x| (top..top + down).any(|y| self.is_paper(grey, x, y)))
        })
    }

    /// The share of `grey`'s outermost pixels that are ink, not this paper.
    fn edge_ink(&self, grey: &GrayImage) -> f64 {
        super::share_of_edge(grey, |x, y| !self.is_paper(grey, x, y))
    }

    /// The paper's brightness at pixel `(x, y)` of the picture the surface was fitted to.
    pub(super) fn at(&self, x: f64, y: f64) -> f64 {
        dot(&self.terms(x, y), &self.coefficients)
    }

    /// 1, u, v, u², uv, v² with u and v the position scaled to [-1, 1] (well conditioned).
    fn terms(&self, x: f64, y: f64) -> [f64; 6] {
        let u = 2.0 * (x + 0.5) / self.width - 1.0;
        let v = 2.0 * (y + 0.5) / self.height - 1.0;
        [1.0, u, v, u * u, u * v, v * v]
    }
}

/// The dot product of two 6-vectors.
fn dot(a: &[f64; 6], b: &[f64; 6]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// 1.4826 × the median absolute residual of the samples kept: the standard deviation of
/// normally distributed residuals, unmoved by the ink.
fn robust_deviation(residuals: &[f64], kept: &[bool]) -> f64 {
    let mut absolute: Vec<f64> = residuals
        .iter()
        .zip(kept)
        .filter(|(_, keep)| **keep)
        .map(|(residual, _)| residual.abs())
        .collect();
    if absolute.is_empty() {
        return 0.0;
    }
    let middle = absolute.len() / 2;
    let (_, median, _) = absolute.select_nth_unstable_by(middle, f64::total_cmp);
    1.4826 * *median
}

/// The coefficients minimising the squared error over the kept samples (normal equations,
/// Gaussian elimination with partial pivoting); `None` when they are not determined.
fn least_squares(samples: &[([f64; 6], f64)], kept: &[bool]) -> Option<[f64; 6]> {
    let mut system = [[0.0f64; 7]; 6];
    for ((terms, level), _) in samples.iter().zip(kept).filter(|(_, keep)| **keep) {
        for row in 0..6 {
            for column in 0..6 {
                system[row][column] += terms[row] * terms[column];
            }
            system[row][6] += terms[row] * level;
        }
    }
    for pivot in 0..6 {
        let best = (pivot..6)
            .max_by(|&a, &b| system[a][pivot].abs().total_cmp(&system[b][pivot].abs()))?;
        if system[best][pivot].abs() < 1e-9 {
            return None;
        }
        system.swap(pivot, best);
        let pivot_row = system[pivot];
        for (row, equation) in system.iter_mut().enumerate() {
            if row != pivot {
                let factor = equation[pivot] / pivot_row[pivot];
                for (value, above) in equation.iter_mut().zip(pivot_row).skip(pivot) {
                    *value -= factor * above;
                }
            }
        }
    }
    Some(std::array::from_fn(|i| system[i][6] / system[i][i]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn a_lamps_light_is_fitted_under_the_ink() {
        // Light from the top-left corner, falling off in a curve, and a thick dark bar.
        let light = |x: u32, y: u32| {
            let (u, v) = (x as f64 / 63.0, y as f64 / 63.0);
            230.0 - 60.0 * u - 40.0 * v + 30.0 * u * v - 20.0 * v * v
        };
        let picture = GrayImage::from_fn(64, 64, |x, y| {
            let bar = (28..36).contains(&x) && (10..54).contains(&y);
            Luma([if bar { 40 } else { light(x, y).round() as u8 }])
        });
        let paper = PaperSurface::fit(&picture);
        for (x, y) in [(0, 0), (63, 63), (32, 32), (0, 63), (63, 0)] {
            let error = (paper.at(f64::from(x), f64::from(y)) - light(x, y)).abs();
            assert!(error < 2.0, "({x}, {y}): off by {error:.1}");
        }
    }

    #[test]
    fn the_paper_round_a_stroke_cut_out_to_it_is_even() {
        // A stroke crossing the picture top to bottom, its edges faint, and paper either side: a
        // 1 cut out to its ink. The quadratic bent down under it, to 79 where the paper is 235.
        let cut = GrayImage::from_fn(30, 60, |x, _| {
            let strength = (1.0 - ((x as f64 - 14.5).abs() - 3.0) / 6.0).clamp(0.0, 1.0);
            Luma([(235.0 - 195.0 * strength).round() as u8])
        });
        let paper = PaperSurface::fit(&cut);
        for (x, y) in [(14.5, 30.0), (0.0, 0.0), (29.0, 59.0), (0.0, 30.0)] {
            let level = paper.at(x, y);
            assert!((level - 235.0).abs() < 3.0, "({x}, {y}): {level:.0}");
        }
    }

    #[test]
    fn light_falling_off_across_a_bold_digit_is_still_followed() {
        // A thick ring with paper around it, the light falling to 55% across the page: the
        // quadratic bends under the ring, but an even paper would make the shadow ink.
        let light = |x: u32| 230.0 * (1.0 - 0.45 * f64::from(x) / 63.0);
        let page = GrayImage::from_fn(64, 64, |x, y| {
            let radius = (f64::from(x) - 31.5).hypot(f64::from(y) - 31.5);
            let ink = if (12.0..26.0).contains(&radius) {
                40.0 / 230.0
            } else {
                1.0
            };
            Luma([(ink * light(x)).round() as u8])
        });
        assert!(PaperSurface::curved(&page).under_the_paper(&page));
        let paper = PaperSurface::fit(&page);
        let (left, right) = (paper.at(0.0, 31.5), paper.at(63.0, 31.5));
        assert!(right < 0.7 * left, "left {left:.0}, right {right:.0}");
    }
}
