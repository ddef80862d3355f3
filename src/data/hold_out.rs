//! A validation set held out of the training images.

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::data::idx::LabelledImages;

/// Splits `images` into (kept, held out): `held_out` images drawn at random with `seed`, both
/// parts in their original order.
pub(crate) fn hold_out(
    images: &LabelledImages,
    held_out: usize,
    seed: u64,
) -> (LabelledImages, LabelledImages) {
    let mut order: Vec<usize> = (0..images.len()).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    let mut chosen = vec![false; images.len()];
    for &index in order.iter().take(held_out) {
        chosen[index] = true;
    }
    let pick = |want: bool| images.select((0..images.len()).filter(|&i| chosen[i] == want));
    (pick(false), pick(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;

    #[test]
    fn hold_out_is_a_seeded_partition() {
        let images = LabelledImages::from_parts(
            (0..100 * IMAGE_PIXELS)
                .map(|i| (i / IMAGE_PIXELS) as u8)
                .collect(),
            (0..100).map(|i| (i % 10) as u8).collect(),
        )
        .unwrap();
        let (kept, held) = hold_out(&images, 30, 7);
        assert_eq!((kept.len(), held.len()), (70, 30));
        let mut ids: Vec<u8> = kept
            .pixels()
            .chunks(IMAGE_PIXELS)
            .chain(held.pixels().chunks(IMAGE_PIXELS))
            .map(|p| p[0])
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            (0..100).collect::<Vec<u8>>(),
            "every image in exactly one part"
        );
        let again = hold_out(&images, 30, 7).1;
        assert_eq!(again.pixels(), held.pixels(), "same seed, same split");
        assert_ne!(hold_out(&images, 30, 8).1.pixels(), held.pixels());
    }
}
