//! The paper's own brightness under the picture's lighting: a smooth surface (a quadratic in x
//! and y) fitted to the picture by least squares, the ink left out. A quadratic follows light
//! falling off across a page and a lamp's vignette, and unlike a local filter it is not pulled
//! towards the image's edges. The ink is found by fitting again without the pixels well below
//! the surface (a robust fit, as document binarisation does with background surfaces).

use image::GrayImage;

/// How many times the ink is left out and the surface fitted again.
const ROUNDS: usize = 4;
/// A pixel more than this many robust deviations below the surface is ink, not paper.
const INK_DEVIATIONS: f64 = 2.5;

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
    /// Fits the surface to `grey` (a small picture: every pixel is a sample).
    pub(super) fn fit(grey: &GrayImage) -> Self {
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
}
