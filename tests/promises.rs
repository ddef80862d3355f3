//! README promises no other test held (issue 24), each held here by the test named after it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::common::*;

/// `name` is a scratch file of an interrupted write, `<file>.<pid>-<n>.tmp`: the file it was
/// to replace.
fn scratch_of(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(".tmp")?;
    let (file, counters) = stem.rsplit_once('.')?;
    let (pid, n) = counters.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(pid) && digits(n)).then_some(file)
}

/// Checks every file of the run folder `run` is whole: JSON parses, every metrics line parses,
/// pictures decode, every Burn record (model, checkpoints) holds all its tensors' bytes, and
/// `infer` loads `model.bpk`. Scratch files of interrupted writes are allowed; Burn's own logs
/// (appended in place, README: "What it cannot promise") and the lock are not checked. Returns
/// the scratch files found.
fn assert_whole(sandbox: &Sandbox, run: &str) -> Vec<PathBuf> {
    let root = sandbox.path(run);
    let mut scratch = Vec::new();
    for relative in files_under(&root) {
        let path = root.join(&relative);
        let name = relative.file_name().unwrap().to_str().unwrap();
        let top = relative.components().next().unwrap().as_os_str();
        if scratch_of(name).is_some() {
            scratch.push(relative.clone());
            continue;
        }
        if top == "train" || top == "valid" || name == "experiment.log" || name == "run.lock" {
            continue;
        }
        let what = relative.display();
        match relative.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                let text = std::fs::read_to_string(&path).unwrap();
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{run}/{what} is cut ({e}): {text:?}"));
            }
            Some("jsonl") => {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    text.is_empty() || text.ends_with('\n'),
                    "{run}/{what} ends inside a line: {text:?}"
                );
                for line in text.lines() {
                    serde_json::from_str::<serde_json::Value>(line)
                        .unwrap_or_else(|e| panic!("{run}/{what}: line cut ({e}): {line:?}"));
                }
            }
            Some("png") => {
                image::open(&path).unwrap_or_else(|e| panic!("{run}/{what} is cut: {e}"));
            }
            Some("bpk") => {
                let reader = burn_pack::Reader::from_file_exact(&path)
                    .unwrap_or_else(|e| panic!("{run}/{what} is cut: {e}"));
                for tensor in reader.tensor_names() {
                    reader
                        .tensor_data(tensor)
                        .unwrap_or_else(|e| panic!("{run}/{what}: {tensor} is cut: {e}"));
                }
            }
            _ => panic!("{run}/{what}: a file the program does not write"),
        }
    }
    if root.join("model.bpk").exists() {
        let infer = sandbox.run_on(
            &mnist_dir(),
            &["infer", "--run", run, "--index", "0", "--json"],
        );
        assert!(
            infer.status.success(),
            "{run}/model.bpk does not load: {}",
            stderr(&infer)
        );
    }
    scratch
}

/// Starts the binary in the sandbox with `args` (and `--data-dir`), output discarded.
fn spawn_quiet(sandbox: &Sandbox, args: &[&str]) -> Child {
    // Nobody reads its output: to /dev/null, so a full pipe never blocks the program before its
    // kill (a closed pipe would stop training before it starts).
    std::process::Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
        .args(args)
        .arg("--data-dir")
        .arg(mnist_dir())
        .current_dir(sandbox.dir.path())
        .env("XDG_RUNTIME_DIR", sandbox.path("xdg-runtime"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts")
}

/// Waits until `scratch` (a folder) holds a scratch file or `child` ends; then kills it with
/// SIGKILL at once. Whether it caught a write in progress shows in the files it left.
fn kill_at_first_scratch_file(child: &mut Child, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let writing = dir.exists()
            && files_under(dir).iter().any(|file| {
                let name = file.file_name().unwrap().to_str().unwrap();
                scratch_of(name).is_some()
            });
        if writing || child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the program never wrote nor ended"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = child.kill();
    child.wait().unwrap();
}

#[test]
fn a_kill_in_the_middle_of_writes_leaves_scratch_files_never_a_cut_file() {
    let sandbox = Sandbox::new();
    let train = [
        "--epochs",
        "3",
        "--limit-train",
        "2000",
        "--limit-test",
        "500",
    ];
    // A whole run first: how long one takes spreads the kills over a run's life.
    let started = Instant::now();
    let mut args = train.to_vec();
    args.extend(["--run", "whole"]);
    let whole = sandbox.run_on(&mnist_dir(), &args);
    assert!(whole.status.success(), "{}", stderr(&whole));
    let lifetime = started.elapsed();
    assert!(assert_whole(&sandbox, "whole").is_empty());

    let mut unfinished = 0;
    let mut scratch_left = Vec::new();
    let kills = 12;
    for kill in 0..kills {
        let run = format!("killed-{kill}");
        let mut args = train.to_vec();
        args.extend(["--run", &run]);
        let mut child = spawn_quiet(&sandbox, &args);
        // Kill moments spread over the run's life, from its first milliseconds to its end.
        std::thread::sleep(lifetime.mul_f64(kill as f64 / kills as f64));
        let _ = child.kill();
        let status = child.wait().unwrap();
        unfinished += usize::from(!status.success());
        if sandbox.path(&run).exists() {
            scratch_left.extend(assert_whole(&sandbox, &run));
        }
    }
    // And kills aimed at writes: the moment a scratch file is seen.
    for kill in 0..4 {
        let run = format!("aimed-{kill}");
        let mut args = train.to_vec();
        args.extend(["--run", &run]);
        let mut child = spawn_quiet(&sandbox, &args);
        kill_at_first_scratch_file(&mut child, &sandbox.path(&run));
        scratch_left.extend(assert_whole(&sandbox, &run));
    }
    // eval rewrites eval.json and its pictures in a finished run: killed at moments spread over
    // its life, what it leaves (the old files or the new ones) is whole.
    let started = Instant::now();
    let eval = sandbox.run_on(&mnist_dir(), &["eval", "--run", "whole"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let lifetime = started.elapsed();
    for kill in 0..6 {
        let mut child = spawn_quiet(&sandbox, &["eval", "--run", "whole"]);
        std::thread::sleep(lifetime.mul_f64(kill as f64 / 6.0));
        let _ = child.kill();
        child.wait().unwrap();
        scratch_left.extend(assert_whole(&sandbox, "whole"));
    }
    let mut child = spawn_quiet(&sandbox, &["eval", "--run", "whole"]);
    kill_at_first_scratch_file(&mut child, &sandbox.path("whole"));
    scratch_left.extend(assert_whole(&sandbox, "whole"));
    eprintln!(
        "{unfinished} of {kills} runs killed before their end; scratch files left: {scratch_left:?}"
    );
    assert!(unfinished > 0, "no kill landed while a run was training");
}

/// A short real run: few images, so a whole run takes seconds.
const SMALL: [&str; 4] = ["--limit-train", "2000", "--limit-test", "500"];

/// Trains `run` on real MNIST with `args` plus [`SMALL`].
fn small_run(sandbox: &Sandbox, run: &str, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(SMALL);
    all.extend(["--run", run]);
    sandbox.run_on(&mnist_dir(), &all)
}

/// What a file is: its size, content hash and modification time.
#[derive(Debug, PartialEq)]
struct Print {
    size: u64,
    sha256: Vec<u8>,
    modified: SystemTime,
}

/// Every file under `dir` with its [`Print`].
fn fingerprint(dir: &Path) -> BTreeMap<PathBuf, Print> {
    use sha2::Digest;
    let mut prints = BTreeMap::new();
    for relative in files_under(dir) {
        let path = dir.join(&relative);
        let meta = std::fs::metadata(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        prints.insert(
            relative,
            Print {
                size: meta.len(),
                sha256: sha2::Sha256::digest(&bytes).to_vec(),
                modified: meta.modified().unwrap(),
            },
        );
    }
    prints
}

/// The differences between two fingerprints, one line each.
fn changes(before: &BTreeMap<PathBuf, Print>, after: &BTreeMap<PathBuf, Print>) -> Vec<String> {
    let mut changes = Vec::new();
    for (path, print) in before {
        match after.get(path) {
            None => changes.push(format!("{} deleted", path.display())),
            Some(now) if now != print => {
                changes.push(format!("{} changed: {print:?} -> {now:?}", path.display()))
            }
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|path| !before.contains_key(*path)) {
        changes.push(format!("{} created", path.display()));
    }
    changes
}

/// `serve` for the sandbox's `run` on a free port; its address once it printed it (within a
/// minute).
fn start_serve(sandbox: &Sandbox, run: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
        .args(["serve", "--run", run, "--port", "0"])
        .current_dir(sandbox.dir.path())
        .env("XDG_RUNTIME_DIR", sandbox.path("xdg-runtime"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        let _ = sender.send(String::from_utf8_lossy(&line).into_owned());
        // Keeps reading, so the server never blocks on a full pipe.
        let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("serve printed its address within a minute");
    (child, serve_address(&line))
}

/// One HTTP/1.1 request on its own connection; the status code.
fn http_status(address: &str, method: &str, path: &str, content_type: &str, body: &[u8]) -> u16 {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer and close before reading a body it refuses.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer: {answer:?}"))
}

/// A PNG of MNIST test digit `index`, dark on white and ten times larger, as a person draws.
fn drawn_digit_png(index: usize) -> Vec<u8> {
    let digit = mnist_test_digit(&mnist_dir(), index);
    let big = image::imageops::resize(&digit, 280, 280, image::imageops::FilterType::Nearest);
    let mut inverted = big.clone();
    image::imageops::invert(&mut inverted);
    let mut bytes = Vec::new();
    inverted
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

#[test]
fn serve_writes_nothing_in_the_run_or_its_working_folder() {
    let sandbox = Sandbox::new();
    let trained = small_run(&sandbox, "run", &["--epochs", "1"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    // The whole sandbox: the run folder and the folder serve runs in.
    let before = fingerprint(sandbox.dir.path());
    assert!(before.contains_key(Path::new("run/model.bpk")));

    let (mut server, address) = start_serve(&sandbox, "run");
    let picture = drawn_digit_png(0);
    let pixels =
        serde_json::to_vec(&read_idx(&mnist_dir(), "t10k-images-idx3-ubyte")[16..800]).unwrap();
    let requests: Vec<(&str, &str, &str, &[u8], u16)> = vec![
        ("GET", "/", "text/plain", b"", 200),
        ("GET", "/healthz", "text/plain", b"", 200),
        ("GET", "/api/model", "text/plain", b"", 200),
        ("POST", "/api/predict", "image/png", &picture, 200),
        ("POST", "/api/predict", "application/json", &pixels, 200),
        ("POST", "/api/predict", "image/png", b"not a picture", 400),
        ("POST", "/api/predict", "application/json", b"[1, 2", 400),
        ("POST", "/api/predict", "text/plain", b"seven", 415),
        ("GET", "/run/model.bpk", "text/plain", b"", 404),
        ("PUT", "/api/predict", "image/png", &picture, 405),
    ];
    for (method, path, content_type, body, expected) in requests {
        assert_eq!(
            http_status(&address, method, path, content_type, body),
            expected,
            "{method} {path} ({content_type})"
        );
    }
    // Stopped as a person stops it, then compared: what it might write on its way out counts.
    ctrl_c(&server);
    server.wait().unwrap();
    let after = fingerprint(sandbox.dir.path());
    assert_eq!(changes(&before, &after), Vec::<String>::new());
}

#[test]
fn a_loss_that_becomes_infinite_fails_the_run_and_keeps_no_model() {
    let sandbox = Sandbox::new();
    // Inputs divided by a std of 2e-38 reach 5e37: the logits stay finite but their differences
    // overflow f32, so log-softmax gives -inf and the loss +inf (not NaN, which needs inf - inf;
    // a NaN loss is tests/resume.rs's `a_loss_that_becomes_nan_fails_the_run_and_keeps_no_model`).
    std::fs::write(
        sandbox.path("overflow.json"),
        r#"{"model": {"input_normalization": {"mean": 0.0, "std": 2e-38}}}"#,
    )
    .unwrap();
    let output = small_run(
        &sandbox,
        "run",
        &["--config", "overflow.json", "--epochs", "2"],
    );
    assert_diverged_without_model(
        &sandbox,
        &output,
        "run",
        "training diverged: the training loss became inf in epoch 1",
    );
    assert!(read_jsonl(&sandbox.path("run/metrics.jsonl")).is_empty());
}
#[test]
fn a_damaged_model_or_scheduler_checkpoint_is_named_and_the_resume_changes_nothing() {
    let sandbox = Sandbox::new();
    let trained = small_run(&sandbox, "run", &["--epochs", "1"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    for kind in ["model", "scheduler"] {
        let checkpoint = sandbox.path(&format!("run/checkpoint/{kind}-1.bpk"));
        let whole = std::fs::read(&checkpoint).unwrap();
        let mut damages = vec![
            ("cut inside its header", whole[..16].to_vec()),
            ("overwritten", b"not a Burn record at all".to_vec()),
        ];
        // A constant rate's scheduler record is 20 bytes of header, padded to 256: cut past
        // those it loses only padding, so only the model's is cut in half.
        if kind == "model" {
            damages.push(("cut in half", whole[..whole.len() / 2].to_vec()));
        }
        for (damage, bytes) in damages {
            std::fs::write(&checkpoint, &bytes).unwrap();
            let before = fingerprint(&sandbox.path("run"));
            let output = sandbox.run_on(&mnist_dir(), &["--resume", "run", "--epochs", "2"]);
            assert!(!output.status.success(), "{kind} {damage}: resumed");
            let line = assert_one_line_error(&output);
            assert!(
                line.contains(&format!("{kind}-1.bpk: not a readable checkpoint")),
                "{kind} {damage}: {line}"
            );
            assert_eq!(
                changes(&before, &fingerprint(&sandbox.path("run"))),
                Vec::<String>::new(),
                "{kind} {damage}"
            );
        }
        std::fs::write(&checkpoint, &whole).unwrap();
    }
    // Whole again, the same resume goes on: the refusals were about the damage.
    let resumed = sandbox.run_on(&mnist_dir(), &["--resume", "run", "--epochs", "2"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(read_jsonl(&sandbox.path("run/metrics.jsonl")).len(), 2);
}

#[test]
fn export_never_replaces_a_model_json_without_overwrite_and_then_writes_nothing() {
    let sandbox = Sandbox::new();
    let trained = small_run(&sandbox, "run", &["--epochs", "1"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    std::fs::create_dir(sandbox.path("out")).unwrap();
    // The user's own model.json, where the architecture of out/model.safetensors would go.
    std::fs::write(sandbox.path("out/model.json"), "{\"mine\": true}").unwrap();
    let export = |extra: &[&str]| {
        let mut args = vec![
            "export",
            "--run",
            "run",
            "--safetensors",
            "out/model.safetensors",
        ];
        args.extend(extra);
        sandbox.run(args)
    };
    for extra in [&[][..], &["--onnx", "out/model.onnx"]] {
        let before = fingerprint(sandbox.dir.path());
        let line = assert_one_line_error(&export(extra));
        assert!(
            line.ends_with("out/model.json: already exists; pass --overwrite to replace it"),
            "{extra:?}: {line}"
        );
        assert_eq!(
            changes(&before, &fingerprint(sandbox.dir.path())),
            Vec::<String>::new(),
            "{extra:?}"
        );
    }
    let replaced = export(&["--overwrite"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    let architecture = read_json(&sandbox.path("out/model.json"));
    assert!(architecture.get("mine").is_none(), "{architecture}");
    assert!(sandbox.path("out/model.safetensors").is_file());
}

/// The cells of `misclassified.png` that hold an image (MNIST's black background),
/// row by row (6 columns, as `analysis::plots` lays them out).
fn drawn_cells(picture: &image::RgbImage) -> Vec<bool> {
    let (columns, cell_w, cell_h, side, top) = (6u32, 152u32, 156u32, 112u32, 56u32);
    let rows = (picture.height() - top - 10) / cell_h;
    (0..rows * columns)
        .map(|n| {
            let x0 = 10 + (n % columns) * cell_w + (cell_w - side) / 2;
            let y0 = top + (n / columns) * cell_h;
            let dark = (0..side)
                .flat_map(|y| (0..side).map(move |x| (x0 + x, y0 + y)))
                .filter(|&(x, y)| picture.get_pixel(x, y).0.iter().all(|&c| c < 64))
                .count();
            dark > (side * side / 2) as usize
        })
        .collect()
}

#[test]
fn eval_worst_n_records_and_draws_n_mistakes() {
    let sandbox = Sandbox::new();
    let trained = small_run(&sandbox, "run", &["--epochs", "1"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    for worst in [7usize, 12, 1] {
        let output = sandbox.run_on(
            &mnist_dir(),
            &["eval", "--run", "run", "--worst", &worst.to_string()],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let report = read_json(&sandbox.path("run/eval.json"));
        let mistakes = report["images"].as_u64().unwrap() - report["correct"].as_u64().unwrap();
        assert!(mistakes > 12, "too few mistakes to draw {worst}: {report}");
        assert_eq!(
            report["worst"].as_array().unwrap().len(),
            worst,
            "--worst {worst}"
        );
        let picture = image::open(sandbox.path("run/misclassified.png"))
            .unwrap()
            .to_rgb8();
        let rows = worst.div_ceil(6) as u32;
        assert_eq!(
            picture.dimensions(),
            (932, 56 + 156 * rows + 10),
            "--worst {worst}: room for {rows} rows"
        );
        let cells = drawn_cells(&picture);
        let expected: Vec<bool> = (0..cells.len()).map(|n| n < worst).collect();
        assert_eq!(cells, expected, "--worst {worst}: the cells drawn");
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
