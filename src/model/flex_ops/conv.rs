//! A valid (no padding), stride-1, ungrouped 2-D convolution and its three gradients on
//! contiguous f32 NCHW buffers, as im2col and matrix products (the `gemm` crate flex uses).
//!
//! Why not burn-flex's own (0.22.1): flex implements only the forward; the gradients are Burn's
//! generic ones, which turn the weight gradient into a convolution with the batch and channel
//! axes swapped (transposing copies of the input and of the output gradient, then matrix
//! products 9 columns wide) and the input gradient into a transposed convolution. Here each
//! image is unfolded once into a `[channels·kh·kw, out_h·out_w]` matrix that stays in the core's
//! cache, and the forward and both gradients are one product each on it:
//!
//! - forward: `y[n] = W · col(x[n]) + b` (`W` is `[out_channels, channels·kh·kw]`, PyTorch's
//!   weight layout read as a matrix), which is already `y[n]`'s NCHW layout;
//! - weight gradient: `dW += dy[n] · col(x[n])ᵀ`, accumulated in place, no transposed copy;
//! - input gradient: `dx[n] = col2im(Wᵀ · dy[n])`;
//! - bias gradient: `db += Σ_pixels dy[n]`.
//!
//! Images are processed in groups of [`GROUP`] on rayon's threads; each group sums its images in
//! order and the groups' sums are added in order, so the results do not depend on the number
//! of threads nor on which thread ran which group (a resumed run repeats its bits).
//!
//! Nothing here knows Burn: the functions take and give slices, so the file can go into
//! burn-flex as it is.

use rayon::prelude::*;

/// Images each task convolves; fixed so that the gradients' sums have one order.
const GROUP: usize = 8;

/// The sizes of one convolution: `x` is `[batch, channels, height, width]`, the weight
/// `[out_channels, channels, kernel[0], kernel[1]]`, the output
/// `[batch, out_channels, height - kernel[0] + 1, width - kernel[1] + 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ConvShape {
    /// Images in the batch.
    pub(super) batch: usize,
    /// Input channels.
    pub(super) channels: usize,
    /// Output channels (filters).
    pub(super) out_channels: usize,
    /// Input rows.
    pub(super) height: usize,
    /// Input columns.
    pub(super) width: usize,
    /// The kernel's rows and columns, each at most the input's.
    pub(super) kernel: [usize; 2],
}

impl ConvShape {
    /// Output rows and columns.
    pub(super) fn out_side(&self) -> [usize; 2] {
        [
            self.height + 1 - self.kernel[0],
            self.width + 1 - self.kernel[1],
        ]
    }

    /// Output pixels per channel: the unfolded matrix's columns.
    fn pixels(&self) -> usize {
        let [rows, cols] = self.out_side();
        rows * cols
    }

    /// Values in one receptive field (`channels·kh·kw`): the unfolded matrix's rows.
    fn patch(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Values of one input image.
    pub(super) fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Values of one output image.
    pub(super) fn out_image_len(&self) -> usize {
        self.out_channels * self.pixels()
    }

    /// Values of the weight.
    pub(super) fn weight_len(&self) -> usize {
        self.out_channels * self.patch()
    }
}

/// The gradients of a convolution's input, weight and bias.
#[derive(Debug)]
pub(super) struct ConvGradients {
    /// `[batch, channels, height, width]`; `None` when not asked for.
    pub(super) x: Option<Vec<f32>>,
    /// `[out_channels, channels, kernel[0], kernel[1]]`.
    pub(super) weight: Vec<f32>,
    /// `[out_channels]`.
    pub(super) bias: Vec<f32>,
}

/// The convolution of `x` by `weight` plus `bias`, `[batch, out_channels, out_h, out_w]`.
///
/// # Panics
/// When a slice's length is not the one `shape` gives.
pub(super) fn forward(shape: &ConvShape, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    check_lengths(shape, x, weight);
    assert_eq!(bias.len(), shape.out_channels, "bias length");
    let (patch, pixels) = (shape.patch(), shape.pixels());
    let mut y = vec![0.0; shape.batch * shape.out_image_len()];
    y.par_chunks_mut(GROUP * shape.out_image_len())
        .zip(x.par_chunks(GROUP * shape.image_len()))
        .for_each(|(y_group, x_group)| {
            let mut col = vec![0.0; patch * pixels];
            let images = x_group.chunks(shape.image_len());
            for (y_n, x_n) in y_group.chunks_mut(shape.out_image_len()).zip(images) {
                im2col(shape, x_n, &mut col);
                for (row, &b) in y_n.chunks_mut(pixels).zip(bias) {
                    row.fill(b);
                }
                let w = Matrix::row_major(weight, shape.out_channels, patch);
                let col_m = Matrix::row_major(&col, patch, pixels);
                product(y_n, pixels, w, col_m, true);
            }
        });
    y
}

/// The gradients of [`forward`] given the output's gradient `dy`; the input's only when
/// `input_gradient` (a network's first layer has none to give).
///
/// # Panics
/// When a slice's length is not the one `shape` gives.
pub(super) fn backward(
    shape: &ConvShape,
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    input_gradient: bool,
) -> ConvGradients {
    check_lengths(shape, x, weight);
    assert_eq!(dy.len(), shape.batch * shape.out_image_len(), "dy length");
    let mut dx = input_gradient.then(|| vec![0.0; x.len()]);
    // One (weight, bias) sum per group, in the groups' order.
    let tasks: Vec<_> = x
        .chunks(GROUP * shape.image_len())
        .zip(dy.chunks(GROUP * shape.out_image_len()))
        .zip(dx_groups(shape, dx.as_mut()))
        .collect();
    let sums: Vec<(Vec<f32>, Vec<f32>)> = tasks
        .into_par_iter()
        .map(|((x_group, dy_group), dx_group)| {
            group_backward(shape, weight, x_group, dy_group, dx_group)
        })
        .collect();
    let mut sums = sums.into_iter();
    let (mut dw, mut db) = sums
        .next()
        .unwrap_or_else(|| (vec![0.0; shape.weight_len()], vec![0.0; shape.out_channels]));
    for (group_dw, group_db) in sums {
        add_into(&mut dw, &group_dw);
        add_into(&mut db, &group_db);
    }
    ConvGradients {
        x: dx,
        weight: dw,
        bias: db,
    }
}

/// Each group's share of `dx`, or `None`s when the input's gradient is not wanted.
fn dx_groups<'a>(
    shape: &ConvShape,
    dx: Option<&'a mut Vec<f32>>,
) -> Box<dyn Iterator<Item = Option<&'a mut [f32]>> + 'a> {
    match dx {
        Some(dx) => Box::new(dx.chunks_mut(GROUP * shape.image_len()).map(Some)),
        None => Box::new(std::iter::repeat_with(|| None)),
    }
}

/// One group's weight and bias gradient sums, writing its images' input gradients to `dx`.
fn group_backward(
    shape: &ConvShape,
    weight: &[f32],
    x_group: &[f32],
    dy_group: &[f32],
    mut dx_group: Option<&mut [f32]>,
) -> (Vec<f32>, Vec<f32>) {
    let (patch, pixels) = (shape.patch(), shape.pixels());
    let mut col = vec![0.0; patch * pixels];
    let mut dw = vec![0.0; shape.weight_len()];
    let mut db = vec![0.0; shape.out_channels];
    let images = x_group
        .chunks(shape.image_len())
        .zip(dy_group.chunks(shape.out_image_len()));
    for (n, (x_n, dy_n)) in images.enumerate() {
        im2col(shape, x_n, &mut col);
        let dy_m = Matrix::row_major(dy_n, shape.out_channels, pixels);
        // dW += dy · colᵀ: the first image writes, the others add.
        product(
            &mut dw,
            patch,
            dy_m,
            Matrix::row_major(&col, patch, pixels).t(),
            n > 0,
        );
        for (sum, row) in db.iter_mut().zip(dy_n.chunks(pixels)) {
            *sum += row.iter().sum::<f32>();
        }
        if let Some(dx_group) = dx_group.as_deref_mut() {
            // col is free again: it takes Wᵀ · dy, folded back onto the image.
            let w_t = Matrix::row_major(weight, shape.out_channels, patch).t();
            product(&mut col, pixels, w_t, dy_m, false);
            let dx_n = &mut dx_group[n * shape.image_len()..(n + 1) * shape.image_len()];
            col2im(shape, &col, dx_n);
        }
    }
    (dw, db)
}

fn check_lengths(shape: &ConvShape, x: &[f32], weight: &[f32]) {
    assert!(
        shape.kernel[0] >= 1
            && shape.kernel[1] >= 1
            && shape.kernel[0] <= shape.height
            && shape.kernel[1] <= shape.width,
        "kernel {:?} for a {}x{} input",
        shape.kernel,
        shape.height,
        shape.width
    );
    assert_eq!(x.len(), shape.batch * shape.image_len(), "x length");
    assert_eq!(weight.len(), shape.weight_len(), "weight length");
}

fn add_into(sum: &mut [f32], part: &[f32]) {
    for (s, p) in sum.iter_mut().zip(part) {
        *s += p;
    }
}

/// Unfolds one image `[channels, height, width]` into `col`, `[channels·kh·kw, out_h·out_w]`:
/// row `(c, i, j)` holds the pixels each output pixel's kernel tap `(i, j)` reads in channel
/// `c`. With stride 1 and no padding each row is `out_h` runs of `out_w` neighbouring pixels.
fn im2col(shape: &ConvShape, image: &[f32], col: &mut [f32]) {
    let [out_h, out_w] = shape.out_side();
    let rows = col.chunks_exact_mut(out_h * out_w);
    for (r, row) in rows.enumerate() {
        let (c, i, j) = tap(shape, r);
        let plane = &image[c * shape.height * shape.width..];
        for (oh, run) in row.chunks_exact_mut(out_w).enumerate() {
            let start = (oh + i) * shape.width + j;
            run.copy_from_slice(&plane[start..start + out_w]);
        }
    }
}

/// The reverse of [`im2col`]: adds each of `col`'s values to the image pixel it was read from.
fn col2im(shape: &ConvShape, col: &[f32], image: &mut [f32]) {
    let [out_h, out_w] = shape.out_side();
    image.fill(0.0);
    for (r, row) in col.chunks_exact(out_h * out_w).enumerate() {
        let (c, i, j) = tap(shape, r);
        let plane = &mut image[c * shape.height * shape.width..];
        for (oh, run) in row.chunks_exact(out_w).enumerate() {
            let start = (oh + i) * shape.width + j;
            add_into(&mut plane[start..start + out_w], run);
        }
    }
}

/// The channel and kernel tap of the unfolded matrix's row `r`.
fn tap(shape: &ConvShape, r: usize) -> (usize, usize, usize) {
    let [kh, kw] = shape.kernel;
    (r / (kh * kw), (r / kw) % kh, r % kw)
}

/// A matrix view of a slice: element `(i, j)` at `i * row_stride + j * col_stride`.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix slice too short");
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, without moving a value.
    fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`; `dst` is row-major with
/// `dst_cols` columns. Single-threaded: the callers run one per image group.
fn product(dst: &mut [f32], dst_cols: usize, lhs: Matrix, rhs: Matrix, accumulate: bool) {
    assert_eq!(lhs.cols, rhs.rows, "inner dimensions");
    assert_eq!(rhs.cols, dst_cols, "output columns");
    assert!(dst.len() >= lhs.rows * dst_cols, "output slice too short");
    let to = |v: usize| isize::try_from(v).expect("a slice's stride fits isize");
    // SAFETY: the asserts above (and `Matrix::row_major`'s, whose transposes address the same
    // elements) keep every index gemm reads or writes inside its slice; `dst` is borrowed
    // mutably, so it overlaps neither input.
    unsafe {
        gemm::gemm(
            lhs.rows,
            rhs.cols,
            lhs.cols,
            dst.as_mut_ptr(),
            1,
            to(dst_cols),
            accumulate,
            lhs.data.as_ptr(),
            to(lhs.col_stride),
            to(lhs.row_stride),
            rhs.data.as_ptr(),
            to(rhs.col_stride),
            to(rhs.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution's definition, one multiply-add at a time, in f64.
    fn direct(shape: &ConvShape, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f64> {
        let [oh, ow] = shape.out_side();
        let [kh, kw] = shape.kernel;
        let (c_in, h, wd) = (shape.channels, shape.height, shape.width);
        let mut y = Vec::new();
        for n in 0..shape.batch {
            for o in 0..shape.out_channels {
                for r in 0..oh {
                    for c in 0..ow {
                        let mut sum = f64::from(b[o]);
                        for ci in 0..c_in {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let xv = x[((n * c_in + ci) * h + r + i) * wd + c + j];
                                    let wv = w[((o * c_in + ci) * kh + i) * kw + j];
                                    sum += f64::from(xv) * f64::from(wv);
                                }
                            }
                        }
                        y.push(sum);
                    }
                }
            }
        }
        y
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32)
            .map(|v| v / (1u32 << 24) as f32 - 0.5)
            .collect()
    }

    const SHAPE: ConvShape = ConvShape {
        batch: 11,
        channels: 3,
        out_channels: 5,
        height: 9,
        width: 7,
        kernel: [3, 2],
    };

    #[test]
    fn forward_is_the_convolutions_definition() {
        let s = SHAPE;
        let (x, w, b) = (
            values(s.batch * s.image_len(), 1),
            values(s.weight_len(), 2),
            values(s.out_channels, 3),
        );
        let y = forward(&s, &x, &w, &b);
        let want = direct(&s, &x, &w, &b);
        assert_eq!(y.len(), want.len());
        for (got, want) in y.iter().zip(&want) {
            assert!((f64::from(*got) - want).abs() < 1e-5, "{got} vs {want}");
        }
    }

    #[test]
    fn gradients_are_the_forwards_derivatives() {
        // The loss Σ y·g has gradient g with respect to y; each parameter's gradient is then
        // checked against the change of that loss when the parameter moves (central difference,
        // f64, exact for a function linear in each parameter).
        let s = SHAPE;
        let (x, w, b) = (
            values(s.batch * s.image_len(), 4),
            values(s.weight_len(), 5),
            values(s.out_channels, 6),
        );
        let g = values(s.batch * s.out_image_len(), 7);
        let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
            direct(&s, x, w, b)
                .iter()
                .zip(&g)
                .map(|(y, g)| y * f64::from(*g))
                .sum()
        };
        let grads = backward(&s, &x, &w, &g, true);
        let numeric = |which: usize, i: usize| {
            let (mut xp, mut wp, mut bp) = (x.clone(), w.clone(), b.clone());
            let (mut xm, mut wm, mut bm) = (x.clone(), w.clone(), b.clone());
            let step = 0.25;
            match which {
                0 => (xp[i] += step, xm[i] -= step),
                1 => (wp[i] += step, wm[i] -= step),
                _ => (bp[i] += step, bm[i] -= step),
            };
            (loss(&xp, &wp, &bp) - loss(&xm, &wm, &bm)) / (2.0 * f64::from(step))
        };
        let dx = grads.x.expect("asked for");
        for (which, got) in [(0, &dx), (1, &grads.weight), (2, &grads.bias)] {
            for i in (0..got.len()).step_by(7) {
                let want = numeric(which, i);
                assert!(
                    (f64::from(got[i]) - want).abs() < 1e-4 * (1.0 + want.abs()),
                    "gradient {which}[{i}]: {} vs {want}",
                    got[i]
                );
            }
        }
        assert!(backward(&s, &x, &w, &g, false).x.is_none());
    }

    #[test]
    fn gradients_do_not_depend_on_the_thread_count() {
        let s = ConvShape { batch: 37, ..SHAPE };
        let x = values(s.batch * s.image_len(), 8);
        let w = values(s.weight_len(), 9);
        let g = values(s.batch * s.out_image_len(), 10);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            pool.install(|| backward(&s, &x, &w, &g, true))
        };
        let (one, three) = (run(1), run(3));
        assert_eq!(one.weight, three.weight);
        assert_eq!(one.bias, three.bias);
        assert_eq!(one.x, three.x);
    }
}
