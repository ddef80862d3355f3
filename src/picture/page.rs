//! Step 4a of preparing a picture: a page photographed lying on a darker table (a note on a
//! desk) is cut out of the picture before its ink is measured. Seen whole, the light page took
//! half the picture or more and was read as light ink on a dark ground: the page itself was
//! the "digit", and every such photo was answered "not a digit".
//!
//! The page is the largest light piece (Otsu's threshold on the grey levels) when the table
//! shows along most of the picture's edge with nothing light on it, the piece with the marks
//! inside it covers a good share of the picture, and it fills the smallest rectangle around it
//! as a sheet of paper does (turned or not, at most 4.5 times longer than wide), with marks on
//! it; a light digit on a dark ground, a ring or a stroke, fills far less of its rectangle, or
//! is longer, or holds no marks, or holds one dark blob (a square 0's hole). The table left
//! around a turned page is painted as paper.

use image::{GrayImage, Luma};
use imageproc::contrast::otsu_level;
use imageproc::distance_transform::Norm;
use imageproc::geometry::{contour_area, convex_hull, min_area_rect};
use imageproc::morphology::erode;
use imageproc::point::Point;
use imageproc::region_labelling::{Connectivity, connected_components};

/// At least this share of the picture's outermost pixels are darker than the page (the table)...
const TABLE_ON_THE_EDGE: f64 = 0.75;
/// ...and at most this share of the ground off the page is light: nothing is written beside it
/// (chalk on a board with a white card pinned to it is not a page on a table).
const MOST_LIGHT_OFF_PAGE: f64 = 0.01;
/// The page, with what is drawn on it, covers at least this share of the picture...
const LEAST_PAGE: f64 = 0.1;
/// ...fills at least this share of the smallest rectangle around it (an ellipse fills
/// π/4, about 0.79, of its rectangle; a sheet turned a little, more than 0.95)...
const RECTANGULAR: f64 = 0.9;
/// ...which is at most this many times longer than wide (a sheet, a card, a strip torn off; a
/// longer light bar on a dark ground is a stroke).
const LONGEST_PAGE: f64 = 4.5;
/// What is written on the page covers at least this share of it (a light bar holds nothing)...
const LEAST_MARKS: f64 = 0.002;
/// ...and, when it covers more than this share of it...
const MOST_MARKS: f64 = 0.25;
/// ...it is strokes, not one dark blob filling this share of its rectangle or more (the hole
/// of a light square 0 on a dark ground; a bold 0's ring on a page fills about half).
const BLOB: f64 = 0.8;
/// Pixels of the page this near the table are painted as paper too: the page's edge is
/// blurred into the table's grey, which would read as a faint frame of ink.
const EDGE_PIXELS: u8 = 2;

/// `grey` cut to the page it shows lying on a darker table, the table around a turned page
/// painted as paper, and where the cut starts in `grey` (left, top); `None` when the picture
/// does not show such a page.
pub(super) fn on_the_page(grey: &GrayImage) -> Option<(GrayImage, (u32, u32))> {
    let (width, height) = grey.dimensions();
    if width < 8 || height < 8 {
        return None;
    }
    let level = otsu_level(grey);
    let light = GrayImage::from_fn(width, height, |x, y| {
        Luma([if grey.get_pixel(x, y).0[0] > level {
            255
        } else {
            0
        }])
    });
    if !table_on_the_edge(&light) {
        return None;
    }
    let page = with_marks_inside(&largest_piece(&light)?);
    let points = |keep: &dyn Fn(u32, u32) -> bool| -> Vec<Point<i32>> {
        page.enumerate_pixels()
            .filter(|&(x, y, p)| p.0[0] > 0 && keep(x, y))
            .map(|(x, y, _)| Point::new(x as i32, y as i32))
            .collect()
    };
    let on_page = points(&|_, _| true);
    let area = on_page.len() as f64;
    let (filled, elongation) = rectangle_fit(&on_page);
    if area < LEAST_PAGE * f64::from(width * height)
        || filled < RECTANGULAR
        || elongation > LONGEST_PAGE
    {
        return None;
    }
    let marks = points(&|x, y| light.get_pixel(x, y).0[0] == 0);
    let share = marks.len() as f64 / area;
    if share < LEAST_MARKS || (share > MOST_MARKS && rectangle_fit(&marks).0 > BLOB) {
        return None;
    }
    bare_ground(&light, &page).then(|| cut_out(grey, &page, &on_page, level))
}

/// Whether the picture's edge is dark (0 in `light`) on [`TABLE_ON_THE_EDGE`] of its pixels.
fn table_on_the_edge(light: &GrayImage) -> bool {
    super::share_of_edge(light, |x, y| light.get_pixel(x, y).0[0] == 0) >= TABLE_ON_THE_EDGE
}

/// Whether the ground off `page` holds at most [`MOST_LIGHT_OFF_PAGE`] light pixels: light
/// strokes beside the page (chalk on a board with a card pinned to it) say it is no bare
/// table, and the writing may lie off the "page".
fn bare_ground(light: &GrayImage, page: &GrayImage) -> bool {
    let (mut off_page, mut light_off_page) = (0usize, 0usize);
    for (lit, on_page) in light.pixels().zip(page.pixels()) {
        if on_page.0[0] == 0 {
            off_page += 1;
            light_off_page += usize::from(lit.0[0] > 0);
        }
    }
    light_off_page as f64 <= MOST_LIGHT_OFF_PAGE * off_page as f64
}

/// The share of the smallest rectangle around `points` (pixels) that they fill, and how many
/// times longer than wide that rectangle is.
fn rectangle_fit(points: &[Point<i32>]) -> (f64, f64) {
    let hull = convex_hull(points);
    let rectangle = min_area_rect(&hull);
    // The pixels' centres span one pixel less than their squares: the rectangle around the
    // squares is a pixel wider each way.
    let side =
        |a: Point<i32>, b: Point<i32>| f64::from(a.x - b.x).hypot(f64::from(a.y - b.y)) + 1.0;
    let (one, other) = (
        side(rectangle[0], rectangle[1]),
        side(rectangle[1], rectangle[2]),
    );
    let share = points.len() as f64 / (one * other).max(contour_area(&hull)).max(1.0);
    (share, one.max(other) / one.min(other))
}

/// The largest 8-connected piece of `light` (255 where light), as 255 on 0.
fn largest_piece(light: &GrayImage) -> Option<GrayImage> {
    let labels = connected_components(light, Connectivity::Eight, Luma([0u8]));
    let mut sizes = std::collections::HashMap::<u32, usize>::new();
    for label in labels.pixels().map(|p| p.0[0]).filter(|&l| l > 0) {
        *sizes.entry(label).or_default() += 1;
    }
    let (&largest, _) = sizes
        .iter()
        .max_by_key(|&(&label, &size)| (size, std::cmp::Reverse(label)))?;
    Some(GrayImage::from_fn(light.width(), light.height(), |x, y| {
        Luma([if labels.get_pixel(x, y).0[0] == largest {
            255
        } else {
            0
        }])
    }))
}

/// `piece` with the dark pieces it encloses (what is written on the page) added: everything
/// that does not reach the picture's edge without crossing it.
fn with_marks_inside(piece: &GrayImage) -> GrayImage {
    let (width, height) = piece.dimensions();
    let ground = GrayImage::from_fn(width, height, |x, y| {
        Luma([255 - piece.get_pixel(x, y).0[0]])
    });
    let labels = connected_components(&ground, Connectivity::Four, Luma([0u8]));
    let on_the_edge: std::collections::HashSet<u32> = labels
        .enumerate_pixels()
        .filter(|(x, y, _)| *x == 0 || *y == 0 || *x + 1 == width || *y + 1 == height)
        .map(|(_, _, label)| label.0[0])
        .filter(|&label| label > 0)
        .collect();
    GrayImage::from_fn(width, height, |x, y| {
        let label = labels.get_pixel(x, y).0[0];
        Luma([if label == 0 || !on_the_edge.contains(&label) {
            255
        } else {
            0
        }])
    })
}

/// `grey` cut to the box around `page` (255 on the page; `on_page` its pixels), what lies off
/// the page and within [`EDGE_PIXELS`] of its edge painted at the page's brightness (the median
/// of its pixels lighter than `level`), and where the box starts.
fn cut_out(
    grey: &GrayImage,
    page: &GrayImage,
    on_page: &[Point<i32>],
    level: u8,
) -> (GrayImage, (u32, u32)) {
    let inside = erode(page, Norm::LInf, EDGE_PIXELS);
    // The points are pixels of `page`: never negative.
    let on_page: Vec<(u32, u32)> = on_page.iter().map(|p| (p.x as u32, p.y as u32)).collect();
    let left = on_page.iter().map(|p| p.0).min().unwrap_or(0);
    let right = on_page.iter().map(|p| p.0).max().unwrap_or(0);
    let top = on_page.iter().map(|p| p.1).min().unwrap_or(0);
    let bottom = on_page.iter().map(|p| p.1).max().unwrap_or(0);
    let mut paper: Vec<u8> = on_page
        .iter()
        .map(|&(x, y)| grey.get_pixel(x, y).0[0])
        .filter(|&level_here| level_here > level)
        .collect();
    paper.sort_unstable();
    let brightness = paper.get(paper.len() / 2).copied().unwrap_or(255);
    let cut = GrayImage::from_fn(right - left + 1, bottom - top + 1, |x, y| {
        let (x, y) = (x + left, y + top);
        if inside.get_pixel(x, y).0[0] > 0 {
            *grey.get_pixel(x, y)
        } else {
            Luma([brightness])
        }
    });
    (cut, (left, top))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `width`×`height` table (grey 60) with a page (grey 225) from `page` (left, top, right,
    /// bottom, turned by `turn` radians about its centre) holding a dark bar.
    fn photo(width: u32, height: u32, page: [f32; 4], turn: f32) -> GrayImage {
        let [left, top, right, bottom] = page;
        let (cx, cy) = ((left + right) / 2.0, (top + bottom) / 2.0);
        GrayImage::from_fn(width, height, |x, y| {
            // Turned back into the page's own frame.
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let (u, v) = (
                cx + dx * turn.cos() + dy * turn.sin(),
                cy - dx * turn.sin() + dy * turn.cos(),
            );
            let on_page = (left..right).contains(&u) && (top..bottom).contains(&v);
            let bar = (cx - 6.0..cx + 6.0).contains(&u) && (cy - 40.0..cy + 40.0).contains(&v);
            Luma([match (on_page, bar) {
                (true, true) => 30,
                (true, false) => 225,
                (false, _) => 60,
            }])
        })
    }

    #[test]
    fn a_page_on_a_table_is_cut_out_with_what_is_written_on_it() {
        for turn in [0.0f32, 0.08, -0.15] {
            let picture = photo(320, 240, [70.0, 40.0, 250.0, 200.0], turn);
            let (page, (left, top)) = on_the_page(&picture).expect("a page");
            assert!(page.width() < 240 && page.height() < 210, "{turn}");
            // The bar is on it, at the same place.
            assert_eq!(page.get_pixel(160 - left, 120 - top).0[0], 30, "{turn}");
            // No table is left in it: nothing as dark as the table but the bar.
            let dark = page.pixels().filter(|p| p.0[0] < 100).count();
            assert!(dark <= 12 * 80 + 40, "{turn}: {dark} dark pixels");
        }
    }

    #[test]
    fn paper_filling_the_picture_or_a_light_digit_on_a_dark_ground_is_no_page() {
        // Paper to the edges, the bar on it.
        let sheet = photo(320, 240, [-10.0, -10.0, 330.0, 250.0], 0.0);
        assert!(on_the_page(&sheet).is_none());
        // A light ring (a 0) on a dark ground: light, surrounded, but no rectangle.
        let ring = GrayImage::from_fn(200, 200, |x, y| {
            let radius = (x as f32 - 99.5).hypot(y as f32 - 99.5);
            Luma([if (50.0..80.0).contains(&radius) {
                230
            } else {
                20
            }])
        });
        assert!(on_the_page(&ring).is_none());
        // A light bar (a 1) on a dark ground: a rectangle, but too little of the picture.
        let one = GrayImage::from_fn(200, 200, |x, y| {
            Luma([if (90..110).contains(&x) && (30..170).contains(&y) {
                230
            } else {
                20
            }])
        });
        assert!(on_the_page(&one).is_none());
        // A light square 0 (a display's) on a dark ground: a rectangle, but its hole is one
        // dark blob, not writing.
        let square = GrayImage::from_fn(200, 200, |x, y| {
            let frame = (40..160).contains(&x) && (30..170).contains(&y);
            let hole = (65..135).contains(&x) && (55..145).contains(&y);
            Luma([if frame && !hole { 230 } else { 20 }])
        });
        assert!(on_the_page(&square).is_none());
        // A white card pinned to a chalkboard, a chalk stroke beside it: the card is not a page
        // on a bare table, and the writing is off it.
        let board = GrayImage::from_fn(320, 240, |x, y| {
            let card = (170..310).contains(&x) && (20..120).contains(&y);
            let print = (200..280).contains(&x) && (60..70).contains(&y);
            let chalk = (60..72).contains(&x) && (60..180).contains(&y);
            Luma([match (card, print, chalk) {
                (true, true, _) => 30,
                (true, false, _) | (false, _, true) => 235,
                _ => 40,
            }])
        });
        assert!(on_the_page(&board).is_none());
    }
}
