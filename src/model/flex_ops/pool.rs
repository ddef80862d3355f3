//! A 2x2 max-pool with stride 2 (PyTorch's `max_pool2d(x, 2)`) and its gradient on contiguous
//! f32 NCHW buffers.
//!
//! Why not burn-flex's own (0.22.1): flex pools through its general 3-D max-pool, which works out
//! each window's valid range and divides per output value, a quarter of a CNN epoch here
//! (docs/measurements.md). This one reads each pair of rows once. Same results as flex's:
//! the first largest value of a window (in row-major order) wins, and a NaN wins over any number
//! (the last NaN of the window, as PyTorch), so the same input gets the same gradient.
//!
//! Nothing here knows Burn: the file can go into burn-flex as it is.

use rayon::prelude::*;

/// A batch of `planes` `[height, width]` maps (batch × channels); odd last rows and columns
/// are left out, as PyTorch's floor mode does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PoolShape {
    /// Maps pooled: batch × channels.
    pub(super) planes: usize,
    /// Rows of each map.
    pub(super) height: usize,
    /// Columns of each map.
    pub(super) width: usize,
}

impl PoolShape {
    /// Rows and columns of each pooled map.
    pub(super) fn out_side(&self) -> [usize; 2] {
        [self.height / 2, self.width / 2]
    }

    fn out_plane(&self) -> usize {
        let [rows, cols] = self.out_side();
        rows * cols
    }
}

/// Planes each task pools: a CNN's channels of a few images.
const PLANES_PER_TASK: usize = 64;

/// The pooled maps `[planes, height / 2, width / 2]` and, for each pooled value, which of its
/// window's four inputs it is (0, 1: the top row, 2, 3: the bottom one).
///
/// # Panics
/// When `x`'s length is not the one `shape` gives.
pub(super) fn forward(shape: &PoolShape, x: &[f32]) -> (Vec<f32>, Vec<u8>) {
    let plane = shape.height * shape.width;
    assert_eq!(x.len(), shape.planes * plane, "x length");
    let out_plane = shape.out_plane();
    let mut y = vec![0.0; shape.planes * out_plane];
    let mut argmax = vec![0; y.len()];
    y.par_chunks_mut(PLANES_PER_TASK * out_plane.max(1))
        .zip(argmax.par_chunks_mut(PLANES_PER_TASK * out_plane.max(1)))
        .zip(x.par_chunks(PLANES_PER_TASK * plane.max(1)))
        .for_each(|((y, argmax), x)| {
            let planes = x.chunks(plane).zip(y.chunks_mut(out_plane));
            for ((x, y), argmax) in planes.zip(argmax.chunks_mut(out_plane)) {
                pool_plane(shape, x, y, argmax);
            }
        });
    (y, argmax)
}

fn pool_plane(shape: &PoolShape, x: &[f32], y: &mut [f32], argmax: &mut [u8]) {
    let [out_h, out_w] = shape.out_side();
    let rows = y
        .chunks_exact_mut(out_w)
        .zip(argmax.chunks_exact_mut(out_w));
    for (row, (y, argmax)) in rows.take(out_h).enumerate() {
        let top = &x[2 * row * shape.width..][..2 * out_w];
        let bottom = &x[(2 * row + 1) * shape.width..][..2 * out_w];
        let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
        for ((y, argmax), (top, bottom)) in y.iter_mut().zip(argmax).zip(windows) {
            // Each row's winner, then the rows': the same as scanning the four in order,
            // keeping a value that is larger or NaN (the first largest, the last NaN).
            let (t, ti) = later_wins(top[0], 0, top[1], 1);
            let (b, bi) = later_wins(bottom[0], 2, bottom[1], 3);
            (*y, *argmax) = later_wins(t, ti, b, bi);
        }
    }
}

/// `(first, i)` unless `second` is larger or NaN.
#[inline(always)]
fn later_wins(first: f32, i: u8, second: f32, j: u8) -> (f32, u8) {
    if second > first || second.is_nan() {
        (second, j)
    } else {
        (first, i)
    }
}

/// The gradient of [`forward`]'s input given its output's, `dy`: each pooled value's gradient
/// goes to the input it was, the other three get 0.
///
/// # Panics
/// When a slice's length is not the one `shape` gives.
pub(super) fn backward(shape: &PoolShape, argmax: &[u8], dy: &[f32]) -> Vec<f32> {
    let plane = shape.height * shape.width;
    let out_plane = shape.out_plane();
    assert_eq!(dy.len(), shape.planes * out_plane, "dy length");
    assert_eq!(argmax.len(), dy.len(), "argmax length");
    let [out_h, out_w] = shape.out_side();
    let mut dx = vec![0.0; shape.planes * plane];
    dx.par_chunks_mut(PLANES_PER_TASK * plane.max(1))
        .zip(dy.par_chunks(PLANES_PER_TASK * out_plane.max(1)))
        .zip(argmax.par_chunks(PLANES_PER_TASK * out_plane.max(1)))
        .for_each(|((dx, dy), argmax)| {
            let planes = dx.chunks_mut(plane).zip(dy.chunks(out_plane));
            for ((dx, dy), argmax) in planes.zip(argmax.chunks(out_plane)) {
                let rows = dy.chunks_exact(out_w).zip(argmax.chunks_exact(out_w));
                for (row, (dy, argmax)) in rows.take(out_h).enumerate() {
                    let top = 2 * row * shape.width;
                    for (col, (&g, &at)) in dy.iter().zip(argmax).enumerate() {
                        let below = usize::from(at >> 1) * shape.width;
                        dx[top + below + 2 * col + usize::from(at & 1)] = g;
                    }
                }
            }
        });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_each_windows_first_largest_value_and_a_nan_over_any_number() {
        // One 4x5 map (its last column left out): windows with a tie, a NaN, negatives.
        #[rustfmt::skip]
        let x = [
            1.0, 7.0,   -3.0, -2.0,  9.0,
            7.0, 2.0,   -1.0, -5.0,  9.0,
            0.0, f32::NAN, 4.0, 4.0, 9.0,
            5.0, 6.0,    4.0, 4.0,  9.0,
        ];
        let shape = PoolShape {
            planes: 1,
            height: 4,
            width: 5,
        };
        let (y, argmax) = forward(&shape, &x);
        assert_eq!(argmax, [1, 2, 1, 0]);
        assert_eq!([y[0], y[1], y[3]], [7.0, -1.0, 4.0]);
        assert!(y[2].is_nan());
        let dx = backward(&shape, &argmax, &[10.0, 20.0, 30.0, 40.0]);
        let mut want = [0.0; 20];
        (want[1], want[7], want[11], want[12]) = (10.0, 20.0, 30.0, 40.0);
        assert_eq!(dx, want);
    }
}
