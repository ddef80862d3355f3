//! Pictures as people make them (photos on grey paper under a lamp, canvas exports with a
//! transparent background, phone JPEGs lying on their side, a page photographed on a table,
//! MNIST's own 28×28 files) reach the
//! model as the clean drawing of the same digit does (`infer --save-input` shows what it
//! received), a low-resolution scan enlarged by repeating its pixels as the same scan enlarged
//! smoothly, and a drawing is centred by its centre of mass. A file that is no picture, or a
//! blank one, gets one line and the others their answers.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::common::*;
use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgba, RgbaImage};

/// How much ink the digit has at each point of a 300×300 page, 0 to 1.
fn ink_on_page(digit: &GrayImage) -> GrayImage {
    imageops::resize(digit, 300, 300, FilterType::CatmullRom)
}

/// Black ink on white paper, evenly lit.
fn clean(ink: &GrayImage) -> DynamicImage {
    DynamicImage::ImageLuma8(GrayImage::from_fn(300, 300, |x, y| {
        Luma([255 - ink.get_pixel(x, y).0[0]])
    }))
}

/// Blue ink on grey paper, the light falling to 45% across the page, saved as a JPEG.
fn photo_under_a_lamp(ink: &GrayImage) -> Vec<u8> {
    let page = image::RgbImage::from_fn(300, 300, |x, y| {
        let light = 1.0 - 0.55 * (x + y) as f32 / 598.0;
        let amount = f32::from(ink.get_pixel(x, y).0[0]) / 255.0;
        let mix = |paper: f32, pen: f32| ((paper * (1.0 - amount) + pen * amount) * light) as u8;
        image::Rgb([mix(200.0, 40.0), mix(195.0, 50.0), mix(185.0, 150.0)])
    });
    encoded(&DynamicImage::ImageRgb8(page), ImageFormat::Jpeg)
}

/// White strokes on a transparent canvas, as an HTML canvas exports them.
fn canvas_export(ink: &GrayImage) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(300, 300, |x, y| {
        Rgba([255, 255, 255, ink.get_pixel(x, y).0[0]])
    }))
}

/// A phone JPEG: the pixels stored turned 90° anticlockwise, with EXIF orientation 6 telling
/// viewers to turn them back.
fn phone_jpeg_on_its_side(ink: &GrayImage) -> Vec<u8> {
    let stored = imageops::rotate270(&clean(ink).to_luma8());
    let jpeg = encoded(&DynamicImage::ImageLuma8(stored), ImageFormat::Jpeg);
    let mut tiff = b"MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0".to_vec();
    let mut segment = b"\xff\xe1".to_vec();
    segment.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    segment.extend_from_slice(b"Exif\0\0");
    segment.append(&mut tiff);
    [&jpeg[..2], &segment, &jpeg[2..]].concat()
}

/// The clean page photographed from above lying on a darker table (grey 70, streaked), turned
/// 6° and covering under half of the frame, saved as a JPEG.
fn page_on_a_table(ink: &GrayImage) -> Vec<u8> {
    let page = clean(ink).to_luma8();
    let (turn_cos, turn_sin) = (6f32.to_radians().cos(), 6f32.to_radians().sin());
    let photo = GrayImage::from_fn(480, 420, |x, y| {
        // The frame's pixel in the page's own coordinates, the page centred at (240, 210).
        let (dx, dy) = (x as f32 - 240.0, y as f32 - 210.0);
        let (u, v) = (
            150.0 + dx * turn_cos + dy * turn_sin,
            150.0 - dx * turn_sin + dy * turn_cos,
        );
        if (0.0..300.0).contains(&u) && (0.0..300.0).contains(&v) {
            *page.get_pixel(u as u32, v as u32)
        } else {
            Luma([(70.0 + 10.0 * (y as f32 / 5.0).sin()) as u8])
        }
    });
    encoded(&DynamicImage::ImageLuma8(photo), ImageFormat::Jpeg)
}

fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

/// A low-resolution scan: the digit at 10×10, dark on light, enlarged to 50×50 by repeating
/// pixels (`FilterType::Nearest`) or smoothly (`CatmullRom`).
fn low_resolution_scan(digit: &GrayImage, filter: FilterType) -> DynamicImage {
    let mut small = imageops::resize(digit, 10, 10, FilterType::Triangle);
    imageops::invert(&mut small);
    DynamicImage::ImageLuma8(imageops::resize(&small, 50, 50, filter))
}

/// The share of pixels inked (> 100) in either image that are inked in both.
fn overlap(a: &GrayImage, b: &GrayImage) -> f64 {
    let inked = |image: &GrayImage, i: usize| image.as_raw()[i] > 100;
    let both = (0..784).filter(|&i| inked(a, i) && inked(b, i)).count();
    let either = (0..784).filter(|&i| inked(a, i) || inked(b, i)).count();
    both as f64 / either.max(1) as f64
}

#[test]
fn pictures_as_people_make_them_reach_the_model_as_the_clean_drawing_does() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let output = sandbox.run_on(&data, &["--epochs", "1", "--run", "run"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let digits = [0usize, 1, 2, 3, 4];
    let kinds = [
        ("clean", "png"),
        ("lamp", "jpg"),
        ("canvas", "png"),
        ("phone", "jpg"),
        ("table", "jpg"),
        ("mnist", "png"),
    ];
    let mut files: Vec<PathBuf> = Vec::new();
    for &index in &digits {
        let digit = mnist_test_digit(&data, index);
        let ink = ink_on_page(&digit);
        let path = |kind: &str, ext: &str| sandbox.path(&format!("{kind}-{index}.{ext}"));
        clean(&ink).save(path("clean", "png")).unwrap();
        std::fs::write(path("lamp", "jpg"), photo_under_a_lamp(&ink)).unwrap();
        canvas_export(&ink).save(path("canvas", "png")).unwrap();
        std::fs::write(path("phone", "jpg"), phone_jpeg_on_its_side(&ink)).unwrap();
        std::fs::write(path("table", "jpg"), page_on_a_table(&ink)).unwrap();
        digit.save(path("mnist", "png")).unwrap();
        files.extend(kinds.map(|(kind, ext)| path(kind, ext)));
        for (kind, filter) in [
            ("blocky", FilterType::Nearest),
            ("smooth", FilterType::CatmullRom),
        ] {
            low_resolution_scan(&digit, filter)
                .save(path(kind, "png"))
                .unwrap();
            files.push(path(kind, "png"));
        }
    }
    let indices = digits.map(|i| i.to_string()).join(",");
    let mut args: Vec<std::ffi::OsString> = vec!["infer".into(), "--json".into()];
    args.extend(["--run", "run", "--save-input", "saved", "--index", &indices].map(Into::into));
    args.extend(["--data-dir".into(), data.clone().into_os_string()]);
    args.extend(files.iter().map(|f| f.clone().into_os_string()));
    let output = sandbox.run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let answers: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        answers.len(),
        files.len() + digits.len(),
        "{}",
        stdout(&output)
    );

    let saved = |name: &str| {
        image::open(sandbox.path(&format!("saved/{name}.png")))
            .unwrap()
            .to_luma8()
    };
    let class_of = |file: &Path| {
        answers
            .iter()
            .find(|a| a["file"] == file.to_str().unwrap())
            .unwrap()["class"]
            .clone()
    };
    for &index in &digits {
        // MNIST's own format is used as it is: the same pixels as the test set's.
        assert_eq!(
            saved(&format!("mnist-{index}")),
            saved(&format!("test-{index}")),
            "digit {index}"
        );
        assert_eq!(
            saved(&format!("test-{index}")),
            mnist_test_digit(&data, index)
        );
        let reference = saved(&format!("clean-{index}"));
        for (kind, _) in &kinds[1..5] {
            let received = saved(&format!("{kind}-{index}"));
            let shared = overlap(&reference, &received);
            // The page on the table lies turned 6°, and so does the digit on it.
            let least = if *kind == "table" { 0.6 } else { 0.75 };
            assert!(
                shared > least,
                "{kind}-{index}: {shared:.2} of the ink where the clean drawing's is"
            );
        }
        // A low-resolution picture enlarged by repeating its pixels reaches the model as the
        // same picture enlarged smoothly (its blocks' edges are not strokes).
        let (blocky, smooth) = (
            saved(&format!("blocky-{index}")),
            saved(&format!("smooth-{index}")),
        );
        let shared = overlap(&blocky, &smooth);
        assert!(
            shared > 0.9,
            "blocky-{index}: {shared:.2} of the ink where the smooth one's is"
        );
        let class_of_png = |kind: &str| class_of(&sandbox.path(&format!("{kind}-{index}.png")));
        assert_eq!(
            class_of_png("blocky"),
            class_of_png("smooth"),
            "blocky-{index}"
        );
        let clean_class = class_of(&sandbox.path(&format!("clean-{index}.png")));
        for (kind, ext) in &kinds[1..] {
            let file = sandbox.path(&format!("{kind}-{index}.{ext}"));
            assert_eq!(class_of(&file), clean_class, "{}", file.display());
        }
    }
}

/// The ink-weighted centre of a 28×28 image (pixel centres at +0.5) and the centre of its
/// bounding box.
fn centres(image: &image::GrayImage) -> ((f64, f64), (f64, f64)) {
    let (mut mass, mut sx, mut sy) = (0.0, 0.0, 0.0);
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, pixel) in image.enumerate_pixels() {
        let weight = f64::from(pixel.0[0]);
        if weight > 0.0 {
            mass += weight;
            sx += weight * (f64::from(x) + 0.5);
            sy += weight * (f64::from(y) + 0.5);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    assert!(mass > 0.0, "no ink");
    let middle = |a: u32, b: u32| f64::from(a + b + 1) / 2.0;
    ((sx / mass, sy / mass), (middle(x0, x1), middle(y0, y1)))
}

#[test]
fn a_picture_is_centred_by_its_centre_of_mass_not_its_box() {
    let sandbox = Sandbox::new();
    let trained = small_run(&sandbox, "run", &["--epochs", "1"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    // A lopsided Γ, black on white: a thick bar across the top, a thin stem down its left end.
    // Its ink lies above and left of its box's centre (about 3 pixels each way in 28×28), yet
    // not so far that centring it pushes ink past the field's edge, which would move its centre.
    let mut drawing = image::GrayImage::from_pixel(300, 300, image::Luma([255]));
    let mut ink = |x0: u32, y0: u32, x1: u32, y1: u32| {
        for y in y0..y1 {
            for x in x0..x1 {
                drawing.put_pixel(x, y, image::Luma([0]));
            }
        }
    };
    ink(60, 40, 240, 90); // the bar
    ink(60, 90, 100, 260); // the stem
    drawing.save(sandbox.path("lopsided.png")).unwrap();
    let output = sandbox.run([
        "infer",
        "--run",
        "run",
        "--save-input",
        "seen",
        "lopsided.png",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let seen = image::open(sandbox.path("seen/lopsided.png"))
        .unwrap()
        .to_luma8();
    assert_eq!(seen.dimensions(), (28, 28));
    let ((mx, my), (bx, by)) = centres(&seen);
    eprintln!("centre of mass ({mx:.2}, {my:.2}), centre of the box ({bx:.2}, {by:.2})");
    // Rounded to a whole pixel's shift, the centre of mass is within half a pixel of 14.
    assert!(
        (mx - 14.0).abs() <= 0.5 && (my - 14.0).abs() <= 0.5,
        "centre of mass at ({mx:.2}, {my:.2}), not (14, 14)"
    );
    // Box centring would have put the box's centre there: the drawing tells the two apart.
    assert!(
        (bx - 14.0).abs() >= 2.0 || (by - 14.0).abs() >= 2.0,
        "the box is centred too ({bx}, {by}): the drawing does not tell the two apart"
    );
}

/// A quick run, `run`, for tests of what happens around the model, not of its accuracy.
fn train_a_small_run(sandbox: &Sandbox, data: &Path) {
    let args = ["--epochs", "1", "--limit-train", "2000", "--run", "run"];
    let output = sandbox.run_on(data, &args);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn save_input_never_replaces_a_file_with_another_picture_and_a_folder_reads_back() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    train_a_small_run(&sandbox, &data);
    std::fs::create_dir(sandbox.path("saved")).unwrap();
    std::fs::write(sandbox.path("saved/test-1.png"), "mine").unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "infer",
            "--run",
            "run",
            "--save-input",
            "saved",
            "--data-dir",
        ];
        let data = data.to_str().unwrap().to_string();
        let data: &str = &data;
        args.push(data);
        args.extend(extra);
        sandbox.run(&args)
    };
    let line = assert_one_line_error(&run(&["--index", "0,1"]));
    assert!(line.contains("saved/test-1.png already exists"), "{line}");
    assert_eq!(
        std::fs::read(sandbox.path("saved/test-1.png")).unwrap(),
        b"mine"
    );
    assert!(
        !sandbox.path("saved/test-0.png").exists(),
        "nothing written when refused"
    );

    let line = assert_one_line_error(&run(&["--index", "2,2"]));
    assert!(
        line.contains("--index 2 and --index 2 would both be saved as"),
        "{line}"
    );
    assert!(!sandbox.path("saved/test-2.png").exists());

    // The quick start typed twice: the same pictures again are no loss, and are read back.
    let again = |folder: &str| {
        let data = data.to_str().unwrap();
        sandbox.run([
            "infer",
            "--run",
            "run",
            "--index",
            "0,2",
            "--save-input",
            folder,
            "--data-dir",
            data,
        ])
    };
    let first = again("inputs");
    assert!(first.status.success(), "{}", stderr(&first));
    let saved = std::fs::read(sandbox.path("inputs/test-2.png")).unwrap();
    let second = again("inputs");
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&first), stdout(&second));
    assert_eq!(
        std::fs::read(sandbox.path("inputs/test-2.png")).unwrap(),
        saved
    );
    // A folder is read as the pictures in it, in name order.
    let folder = sandbox.run(["infer", "--run", "run", "inputs"]);
    assert!(folder.status.success(), "{}", stderr(&folder));
    let lines: Vec<String> = stdout(&folder).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, name) in lines.iter().zip(["test-0.png", "test-2.png"]) {
        let expected = format!("inputs/{name}: predicted ");
        assert!(line.starts_with(&expected), "{line} is not {expected}");
    }
    // Only where the same picture is: a different one there is still refused.
    let line = assert_one_line_error(&run(&["--index", "1"]));
    assert!(line.contains("saved/test-1.png already exists"), "{line}");
}

#[test]
fn a_bad_file_among_good_ones_is_named_and_the_rest_are_answered() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let run = one_epoch_run(&sandbox, &data);
    as_drawing(&mnist_test_digit(&data, 0), &sandbox.path("seven.png"));
    std::fs::write(sandbox.path("notes.png"), "this is text, not a picture").unwrap();
    std::fs::write(sandbox.path("empty.jpg"), b"").unwrap();
    image::RgbImage::from_pixel(50, 50, image::Rgb([255, 255, 255]))
        .save(sandbox.path("blank.png"))
        .unwrap();
    GrayImage::from_pixel(1, 1, Luma([0]))
        .save(sandbox.path("dot.png"))
        .unwrap();

    let output = sandbox.run([
        "infer".as_ref(),
        "--run".as_ref(),
        run.as_os_str(),
        "notes.png".as_ref(),
        "seven.png".as_ref(),
        "empty.jpg".as_ref(),
        "blank.png".as_ref(),
        "dot.png".as_ref(),
        "missing.png".as_ref(),
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 5, "{err}");
    assert!(
        lines[0].starts_with("error: notes.png: not an image"),
        "{err}"
    );
    assert!(
        lines[1].starts_with("error: empty.jpg: not an image"),
        "{err}"
    );
    assert!(
        lines[2].starts_with("error: blank.png: the image is blank"),
        "{err}"
    );
    // One black pixel: nothing to read, said so rather than a crash scaling it.
    assert!(
        lines[3].starts_with("error: dot.png: the image is blank"),
        "{err}"
    );
    assert!(
        lines[4].starts_with("error: missing.png: cannot read"),
        "{err}"
    );
    let out = stdout(&output);
    assert!(out.starts_with("seven.png: predicted "), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn odd_pictures_and_names_get_an_answer_or_one_line_each() {
    use std::os::unix::ffi::OsStrExt;
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    train_a_small_run(&sandbox, &data);
    let seven = clean(&ink_on_page(&mnist_test_digit(&data, 0)));
    // A Linux file name need not be UTF-8.
    let odd_name = sandbox
        .path("x")
        .with_file_name(std::ffi::OsStr::from_bytes(b"seven-\xff.png"));
    seven.save_with_format(&odd_name, ImageFormat::Png).unwrap();
    let black_dot = sandbox.path("black-dot.png");
    GrayImage::from_pixel(1, 1, Luma([0]))
        .save(&black_dot)
        .unwrap();
    let black = sandbox.path("black.png");
    GrayImage::from_pixel(300, 200, Luma([0]))
        .save(&black)
        .unwrap();
    let good = sandbox.path("seven.png");
    seven.save(&good).unwrap();
    // The first 60% of a JPEG: its decoder would fill the rest with grey, read as ink.
    let cut = sandbox.path("cut.jpg");
    let jpeg = encoded(&seven, ImageFormat::Jpeg);
    std::fs::write(&cut, &jpeg[..jpeg.len() * 6 / 10]).unwrap();

    let mut args: Vec<std::ffi::OsString> =
        ["infer", "--json", "--run", "run"].map(Into::into).to_vec();
    args.extend([&odd_name, &black_dot, &black, &cut, &good].map(|p| p.clone().into_os_string()));
    let output = sandbox.run(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let errors: Vec<String> = stderr(&output).lines().map(str::to_string).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[2].starts_with(&format!("error: {}: ", cut.display()))
            && errors[2].contains("a truncated JPEG"),
        "{errors:?}"
    );
    for (line, path) in errors.iter().zip([&black_dot, &black]) {
        assert_eq!(
            line,
            &format!(
                "error: {}: the image is blank (no ink to read a digit from)",
                path.display()
            )
        );
    }
    let answers: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 2, "{}", stdout(&output));
    assert_eq!(answers[0]["file"], odd_name.to_string_lossy().as_ref());
    assert_eq!(answers[1]["file"], good.to_str().unwrap());
}

// Numbers: a picture of several digits.

/// Test digits the run reads right one by one, with at least 90%: (index, label) for each
/// class that has one among the first 300.
fn digits_read_right(sandbox: &Sandbox, data: &Path) -> Vec<Option<usize>> {
    let indices: Vec<String> = (0..300).map(|index| index.to_string()).collect();
    let output = sandbox.run([
        "infer",
        "--run",
        "run",
        "--json",
        "--data-dir",
        data.to_str().unwrap(),
        "--index",
        &indices.join(","),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut by_class = vec![None; 10];
    for line in stdout(&output).lines() {
        let answer: serde_json::Value = serde_json::from_str(line).unwrap();
        let label = answer["label"].as_u64().unwrap() as usize;
        if answer["class"] == answer["label"]
            && answer["probability"].as_f64().unwrap() > 0.9
            && by_class[label].is_none()
        {
            by_class[label] = Some(answer["index"].as_u64().unwrap() as usize);
        }
    }
    by_class
}

#[test]
fn numbers_of_mnist_digits_side_by_side_are_read_left_to_right_with_their_boxes() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let run = trained_run_copy(&sandbox, "run");
    assert!(run.is_dir());
    let right = digits_read_right(&sandbox, &data);
    let pick = |text: &str| -> Vec<usize> {
        text.bytes()
            .map(|digit| {
                right[usize::from(digit - b'0')].expect("a test digit of each class read right")
            })
            .collect()
    };
    // (number, gap between digits in MNIST pixels, digit drawn in two strokes)
    let numbers = [
        ("2026", 4, None),
        ("31", 0, None),
        ("4512", 8, Some(1)),
        ("907", 2, None),
        ("68", 0, Some(0)),
        ("123456", 3, None),
    ];
    let mut files = Vec::new();
    let mut expected = Vec::new();
    for (at, (number, gap, broken)) in numbers.iter().enumerate() {
        let (page, cells) = number_picture(&data, &pick(number), *gap, *broken);
        let file = format!("number-{at}.png");
        page.save(sandbox.path(&file)).unwrap();
        files.push(file);
        expected.push((number.to_string(), cells));
    }
    let mut args = vec!["infer", "--run", "run", "--json"];
    args.extend(files.iter().map(String::as_str));
    let output = sandbox.run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let answers: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers.len(), numbers.len());
    for (answer, (number, cells)) in answers.iter().zip(&expected) {
        assert_eq!(answer["number"], number.as_str(), "{answer}");
        assert_eq!(
            answer["class"],
            serde_json::Value::Null,
            "several digits: {answer}"
        );
        let digits = answer["digits"].as_array().unwrap();
        assert_eq!(digits.len(), cells.len(), "{answer}");
        for (digit, cell) in digits.iter().zip(cells) {
            // Each box lies in the cell its digit was drawn in (a pixel of smoothing aside).
            let b: Vec<u64> = digit["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            let (cx, cy) = (b[0] + b[2] / 2, b[1] + b[3] / 2);
            let [x, y, w, h] = cell.map(u64::from);
            assert!(
                (x..x + w).contains(&cx)
                    && (y..y + h).contains(&cy)
                    && b[2] <= w + 3
                    && b[3] <= h + 3,
                "box {b:?} outside its cell {cell:?}: {answer}"
            );
        }
    }
    // In text: the number, then each digit.
    let output = sandbox.run(["infer", "--run", "run", files[0].as_str()]);
    let line = stdout(&output);
    assert!(
        line.starts_with("number-0.png: read 2026  digits: 2 "),
        "{line}"
    );
}

#[test]
fn one_digit_is_read_as_before_and_a_number_of_one_and_specks_are_refused_in_one_line() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    trained_run_copy(&sandbox, "run");
    let seven = mnist_test_digit(&data, 0);
    as_drawing(&seven, &sandbox.path("seven.png"));
    // A grid of 64 blots, none a speck beside the others: no line of digits, refused at once
    // in one line naming the file (thousands of specks are no ink at all: "blank").
    let specks = GrayImage::from_fn(400, 400, |x, y| {
        Luma([if x % 50 < 12 && y % 50 < 12 { 0 } else { 255 }])
    });
    specks.save(sandbox.path("specks.png")).unwrap();
    let output = sandbox.run(["infer", "--run", "run", "--json", "seven.png", "specks.png"]);
    assert!(!output.status.success());
    let answer: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    // A digit keeps the one-image schema, and is a number of one digit.
    assert_eq!(answer["class"], 7, "{answer}");
    assert_eq!(answer["number"], "7", "{answer}");
    assert_eq!(answer["top3"].as_array().unwrap().len(), 3);
    assert_eq!(answer["digits"].as_array().unwrap().len(), 1);
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: specks.png: ")
            && err.contains("pieces of ink, more than the 40 digits"),
        "{err}"
    );
    // Text: the single digit's line, as before.
    let output = sandbox.run(["infer", "--run", "run", "seven.png"]);
    assert!(
        stdout(&output).starts_with("seven.png: predicted 7  top-3: 7 "),
        "{}",
        stdout(&output)
    );
}

/// Strokes, each through points of a unit box (x right, y down).
type Strokes = &'static [&'static [(f32, f32)]];

/// Capital letters as someone writes them, none shaped like a digit.
const LETTERS: [(char, Strokes); 9] = [
    (
        'A',
        &[
            &[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)],
            &[(0.25, 0.55), (0.75, 0.55)],
        ],
    ),
    (
        'E',
        &[
            &[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (1.0, 1.0)],
            &[(0.0, 0.5), (0.8, 0.5)],
        ],
    ),
    (
        'F',
        &[
            &[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0)],
            &[(0.0, 0.5), (0.7, 0.5)],
        ],
    ),
    (
        'H',
        &[
            &[(0.0, 0.0), (0.0, 1.0)],
            &[(1.0, 0.0), (1.0, 1.0)],
            &[(0.0, 0.5), (1.0, 0.5)],
        ],
    ),
    (
        'K',
        &[
            &[(0.0, 0.0), (0.0, 1.0)],
            &[(1.0, 0.0), (0.0, 0.6)],
            &[(0.3, 0.4), (1.0, 1.0)],
        ],
    ),
    (
        'M',
        &[&[(0.0, 1.0), (0.0, 0.0), (0.5, 0.6), (1.0, 0.0), (1.0, 1.0)]],
    ),
    ('N', &[&[(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]]),
    (
        'W',
        &[&[(0.0, 0.0), (0.25, 1.0), (0.5, 0.4), (0.75, 1.0), (1.0, 0.0)]],
    ),
    ('X', &[&[(0.0, 0.0), (1.0, 1.0)], &[(1.0, 0.0), (0.0, 1.0)]]),
];

/// A letter's strokes (see [`LETTERS`]) in black, a round pen 9 pixels wide, on a white page
/// 160×200 with a 30-pixel margin.
fn letter_picture(strokes: Strokes) -> GrayImage {
    let mut page = GrayImage::from_pixel(160, 200, Luma([255]));
    let at = |(x, y): (f32, f32)| (30.0 + 100.0 * x, 30.0 + 140.0 * y);
    for stroke in strokes {
        for pair in stroke.windows(2) {
            let ((x0, y0), (x1, y1)) = (at(pair[0]), at(pair[1]));
            let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize;
            for step in 0..=steps {
                let t = step as f32 / steps.max(1) as f32;
                let centre = ((x0 + t * (x1 - x0)) as i32, (y0 + t * (y1 - y0)) as i32);
                imageproc::drawing::draw_filled_circle_mut(&mut page, centre, 4, Luma([0]));
            }
        }
    }
    page
}

/// Grey noise, `side` pixels square, from a fixed linear congruential stream.
fn noise_picture(side: u32, seed: u64) -> GrayImage {
    let mut state = seed;
    GrayImage::from_fn(side, side, |_, _| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        Luma([(state >> 56) as u8])
    })
}

/// For each class, the first of MNIST's first 200 test digits that the sandbox's `run` reads
/// right, at least 90% sure, as a picture of that digit alone (as `number_picture` draws it).
fn pictured_digits_read_right(sandbox: &Sandbox, data: &Path) -> Vec<Option<usize>> {
    let labels = read_idx(data, "t10k-labels-idx1-ubyte");
    let files: Vec<String> = (0..200)
        .map(|index| {
            let file = format!("alone-{index}.png");
            let (page, _) = number_picture(data, &[index], 4, None);
            page.save(sandbox.path(&file)).unwrap();
            file
        })
        .collect();
    let mut args = vec!["infer", "--run", "run", "--json"];
    args.extend(files.iter().map(String::as_str));
    let output = sandbox.run(&args);
    let mut by_class = vec![None; 10];
    for line in stdout(&output).lines() {
        let answer: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = answer["file"].as_str().unwrap();
        let index: usize = file["alone-".len()..file.len() - ".png".len()]
            .parse()
            .unwrap();
        let label = labels[8 + index];
        if answer["class"] == label && answer["probability"].as_f64().unwrap() >= 0.9 {
            by_class[usize::from(label)].get_or_insert(index);
        }
    }
    by_class
}

#[test]
fn letters_and_noise_are_not_digits_to_a_run_trained_with_outliers_and_numbers_still_read() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    // The tutorial's network on all of MNIST but 5,000 held out to calibrate on, with and
    // without Outlier Exposure.
    for (run, weight) in [("run", "0.5"), ("plain", "0")] {
        let args = [
            "--valid-size",
            "5000",
            "--outlier-exposure",
            weight,
            "--run",
            run,
        ];
        let trained = sandbox.run_on(&data, &args);
        assert!(trained.status.success(), "{}", stderr(&trained));
        let calibrated = sandbox.run_on(&data, &["calibrate", "--run", run]);
        assert!(calibrated.status.success(), "{}", stderr(&calibrated));
        assert!(
            stdout(&calibrated).contains("not a digit: a top probability below "),
            "{}",
            stdout(&calibrated)
        );
    }
    let mut not_digits = Vec::new();
    for (letter, strokes) in LETTERS {
        let file = format!("letter-{letter}.png");
        letter_picture(strokes).save(sandbox.path(&file)).unwrap();
        not_digits.push(file);
    }
    for (seed, side) in [(1, 120), (2, 300)] {
        let file = format!("noise-{seed}.png");
        noise_picture(side, seed).save(sandbox.path(&file)).unwrap();
        not_digits.push(file);
    }
    // Answered "not a digit" (no number, a reason) or refused in a line of its own.
    let refused = |run: &str| -> Vec<String> {
        let mut args = vec!["infer", "--run", run, "--json"];
        args.extend(not_digits.iter().map(String::as_str));
        let output = sandbox.run(&args);
        let answered: Vec<serde_json::Value> = stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let mut refused: Vec<String> = answered
            .iter()
            .filter(|answer| answer["number"].is_null())
            .map(|answer| {
                assert!(
                    answer["reason"]
                        .as_str()
                        .unwrap()
                        .starts_with("not a digit: ")
                );
                assert_eq!(answer["class"], serde_json::Value::Null, "{answer}");
                answer["file"].as_str().unwrap().to_string()
            })
            .collect();
        refused.extend(stderr(&output).lines().map(|line| line.to_string()));
        refused
    };
    let (taught, plain) = (refused("run"), refused("plain"));
    assert!(
        taught.len() >= 8 && taught.len() > plain.len(),
        "of {} letters and noise, the run trained with outliers refused {taught:?}, the plain run {plain:?}",
        not_digits.len()
    );
    // Numbers of test digits it reads surely on their own are still read, whole.
    let right = pictured_digits_read_right(&sandbox, &data);
    let mut files = Vec::new();
    for (at, number) in ["2026", "31", "4512", "907"].iter().enumerate() {
        let digits: Vec<usize> = number
            .bytes()
            .map(|d| right[usize::from(d - b'0')].expect("a test digit of each class read right"))
            .collect();
        let (page, _) = number_picture(&data, &digits, 4, None);
        let file = format!("number-{at}.png");
        page.save(sandbox.path(&file)).unwrap();
        files.push((file, number));
    }
    for (file, number) in &files {
        let output = sandbox.run(["infer", "--run", "run", "--json", file.as_str()]);
        let answer: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
        assert_eq!(answer["number"], **number, "{answer}");
        assert_eq!(answer["not_digits"], serde_json::json!([]), "{answer}");
    }
    // eval says what the threshold refuses of the test set: about the 1% of held-out images
    // it was chosen to refuse.
    let eval = sandbox.run_on(&data, &["eval", "--run", "run"]);
    assert!(
        stdout(&eval).contains("not a digit below a top probability of "),
        "{}",
        stdout(&eval)
    );
    let refused = read_json(&sandbox.path("run/eval.json"))["not_a_digit"]["refused"]
        .as_u64()
        .unwrap();
    assert!((20..=200).contains(&refused), "{refused} of 10,000");
    // infer --index answers the test images as eval counts them: the same ones are not digits.
    let every: Vec<String> = (0..10_000).map(|index| index.to_string()).collect();
    let every = every.join(",");
    let output = sandbox.run_on(
        &data,
        &["infer", "--run", "run", "--json", "--index", &every],
    );
    let not_digits = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|answer| answer["number"].is_null() && answer["class"].is_null())
        .count();
    assert_eq!(not_digits as u64, refused, "{}", stderr(&output));
    // In text: the reason, in one line.
    let output = sandbox.run(["infer", "--run", "run", "noise-1.png"]);
    assert!(
        stdout(&output).starts_with("noise-1.png: not a digit: "),
        "{}",
        stdout(&output)
    );
    // Shapes no digit has, whatever the model reads in them: a dash ten times as wide as
    // tall, a filled blot, a face, two spots far apart (a scene's shapes); a 0 drawn with a
    // pen is still a 0.
    let mut dash = GrayImage::from_pixel(200, 120, Luma([255]));
    let bar = imageproc::rect::Rect::at(40, 54).of_size(120, 12);
    imageproc::drawing::draw_filled_rect_mut(&mut dash, bar, Luma([0]));
    dash.save(sandbox.path("dash.png")).unwrap();
    let mut blot = GrayImage::from_pixel(160, 160, Luma([255]));
    imageproc::drawing::draw_filled_ellipse_mut(&mut blot, (80, 80), 40, 30, Luma([0]));
    blot.save(sandbox.path("blot.png")).unwrap();
    // A face: a ring with two eyes inside (a 0's loop holds paper).
    let mut face = GrayImage::from_pixel(200, 200, Luma([255]));
    for step in 0..360 {
        let angle = (step as f32).to_radians();
        let centre = (
            (100.0 + 60.0 * angle.cos()) as i32,
            (100.0 + 60.0 * angle.sin()) as i32,
        );
        imageproc::drawing::draw_filled_circle_mut(&mut face, centre, 4, Luma([0]));
    }
    for eye in [(78, 85), (122, 85)] {
        imageproc::drawing::draw_filled_circle_mut(&mut face, eye, 8, Luma([0]));
    }
    face.save(sandbox.path("face.png")).unwrap();
    // Two spots, one over the other (one region: the lower too small to be a second line).
    let mut spots = GrayImage::from_pixel(160, 200, Luma([255]));
    imageproc::drawing::draw_filled_circle_mut(&mut spots, (80, 50), 20, Luma([0]));
    imageproc::drawing::draw_filled_circle_mut(&mut spots, (80, 140), 12, Luma([0]));
    spots.save(sandbox.path("spots.png")).unwrap();
    let zero = right[0].expect("a test 0 read right");
    let (page, _) = number_picture(&data, &[zero], 4, None);
    page.save(sandbox.path("zero.png")).unwrap();
    let output = sandbox.run([
        "infer",
        "--run",
        "run",
        "dash.png",
        "blot.png",
        "face.png",
        "spots.png",
        "zero.png",
    ]);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "dash.png: not a digit: its ink is more than twice as wide as tall",
            "blot.png: not a digit: its ink is a filled shape, far thicker than a pen's stroke",
            "face.png: not a digit: it has a separate mark inside a loop of its ink, which no digit has",
            "spots.png: not a digit: its ink is blots far apart, not a pen's strokes",
        ],
        "{}",
        stderr(&output)
    );
    assert!(
        lines[4].starts_with("zero.png: predicted 0 "),
        "{}",
        lines[4]
    );
    // Beside a digit, a dash is left out of the number and says why.
    let mut underlined = GrayImage::from_pixel(page.width() + 150, page.height(), Luma([255]));
    image::imageops::overlay(&mut underlined, &page, 0, 0);
    let dash = imageproc::rect::Rect::at(page.width() as i32 + 10, 100).of_size(120, 12);
    imageproc::drawing::draw_filled_rect_mut(&mut underlined, dash, Luma([0]));
    underlined.save(sandbox.path("zero-dash.png")).unwrap();
    let output = sandbox.run(["infer", "--run", "run", "--json", "zero-dash.png"]);
    let answer: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(answer["number"], "0", "{answer}");
    assert_eq!(
        answer["not_digits"][0]["reason"], "its ink is more than twice as wide as tall",
        "{answer}"
    );
    assert_eq!(answer["digits"][0].get("reason"), None, "{answer}");
}
