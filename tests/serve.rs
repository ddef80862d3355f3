//! `serve`: the real server on a free port, asked real questions and garbage over HTTP, writing
//! nothing in the run or the folder it runs in, and its page driven by a real headless Chromium
//! (Debian's `chromium`, which `.ci/run` installs).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A running `serve`, stopped when dropped.
struct Server {
    child: Child,
    address: String,
    /// What the server wrote to standard error so far (its request log).
    log: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Server {
    /// Starts `serve` on a free port for the sandbox's `run` and waits for its address line.
    fn start(sandbox: &Sandbox, run: &str) -> Self {
        Self::start_with(sandbox, run, &[])
    }

    /// [`Server::start`] with more flags (`--collect DIR`).
    fn start_with(sandbox: &Sandbox, run: &str, flags: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mnist-trainer"));
        command.args(["serve", "--run", run, "--port", "0"]);
        command.args(flags);
        Self::spawn(sandbox, command)
    }

    /// Starts `command` (a `serve`, or a program that runs one) in the sandbox and waits for
    /// the server's address line.
    fn spawn(sandbox: &Sandbox, mut command: Command) -> Self {
        let mut child = command
            .current_dir(sandbox.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let log: std::sync::Arc<std::sync::Mutex<Vec<u8>>> = std::sync::Arc::default();
        let mut stderr = child.stderr.take().expect("piped stderr");
        let kept = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(read @ 1..) = stderr.read(&mut buffer) {
                kept.lock().unwrap().extend_from_slice(&buffer[..read]);
            }
        });
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).expect("the server's stdout") == 1 && byte[0] != b'\n' {
            line.push(byte[0]);
        }
        let address = serve_address(&String::from_utf8_lossy(&line));
        Server {
            child,
            address,
            log,
        }
    }

    /// Its standard error so far.
    fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// One request on its own connection; the status and the body.
    fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        http(&self.address, method, path, content_type, body)
    }

    fn json(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> (u16, serde_json::Value) {
        let (status, body) = self.request(method, path, content_type, body);
        let value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        (status, value)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HTTP/1.1 by hand: the request, then the whole answer (the server closes the connection).
fn http(
    address: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // A server may answer and close before reading a body it refuses: not an error here.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "{method} {path}: no HTTP answer: {:?}",
                String::from_utf8_lossy(&answer)
            )
        });
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let mut body = answer[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    (status, body)
}

fn unchunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size");
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 4 + size..];
    }
}

/// A quick run (one epoch on all of MNIST: about 95% on the test set) in `run`: a copy of the
/// one this binary trains once (`trained_run_copy`).
fn trained_run(sandbox: &Sandbox) {
    trained_run_copy(sandbox, "run");
}

/// Test image `index` and its label, as MNIST stores it (white ink on black).
fn test_image(index: usize) -> (Vec<u8>, u8) {
    let images = read_idx(&mnist_dir(), "t10k-images-idx3-ubyte");
    let labels = read_idx(&mnist_dir(), "t10k-labels-idx1-ubyte");
    (
        images[16 + index * 784..16 + (index + 1) * 784].to_vec(),
        labels[8 + index],
    )
}

/// A PNG of a grey picture.
fn png(width: u32, height: u32, grey: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::GrayImage::from_raw(width, height, grey.to_vec())
        .unwrap()
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// A test image as a person's picture: dark ink on white, ten times larger.
fn as_picture(mnist: &[u8]) -> Vec<u8> {
    let side = 280;
    let grey: Vec<u8> = (0..side * side)
        .map(|i| 255 - mnist[(i / side / 10) * 28 + (i % side) / 10])
        .collect();
    png(side as u32, side as u32, &grey)
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
        // Without --collect nothing is saved.
        ("POST", "/api/collect?class=3", "image/png", &picture, 404),
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
fn the_api_reads_pictures_and_pixels_and_refuses_garbage_with_a_4xx_naming_it() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let server = Server::start(&sandbox, "run");

    let (status, health) = server.json("GET", "/healthz", None, b"");
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    // Each request is a line on standard error, as web servers log them.
    let (status, _) = server.request("GET", "/nowhere", None, b"");
    assert_eq!(status, 404);
    let started = Instant::now();
    while !server.log().contains("\"GET /nowhere\" 404 ") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let logged: Vec<String> = server.log().lines().map(str::to_string).collect();
    assert!(
        logged[0].starts_with("127.0.0.1:") && logged[0].contains(" \"GET /healthz\" 200 "),
        "{logged:?}"
    );
    assert!(logged[0].ends_with(" ms"), "{logged:?}");
    let (status, model) = server.json("GET", "/api/model", None, b"");
    assert_eq!(status, 200);
    assert_eq!(model["model"], "784-128-10");
    assert_eq!(model["class_names"].as_array().unwrap().len(), 10);
    assert!(model["test_accuracy"].as_f64().unwrap() > 90.0, "{model}");

    let (status, page) = server.request("GET", "/", None, b"");
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("<canvas id=\"pad\""), "the drawing page");
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "loads nothing from elsewhere"
    );

    let (image, label) = test_image(0);
    let (status, answer) = server.json(
        "POST",
        "/api/predict",
        Some("image/png"),
        &as_picture(&image),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["class"].as_u64(), Some(u64::from(label)), "{answer}");
    assert_eq!(answer["name"], label.to_string());
    let total: f64 = answer["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-4, "probabilities sum to {total}");
    assert_eq!(answer["input"].as_array().unwrap().len(), 784);

    let mut jpeg = Vec::new();
    image::load_from_memory(&as_picture(&image))
        .unwrap()
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let (status, answer) = server.json("POST", "/api/predict", Some("image/jpeg"), &jpeg);
    assert_eq!(
        (status, answer["class"].as_u64()),
        (200, Some(u64::from(label))),
        "{answer}"
    );

    let levels = serde_json::to_vec(&image).unwrap();
    let (status, answer) = server.json("POST", "/api/predict", Some("application/json"), &levels);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["class"].as_u64(), Some(u64::from(label)));
    let echoed: Vec<u8> = serde_json::from_value(answer["input"].clone()).unwrap();
    assert_eq!(
        echoed, image,
        "grey levels are the model's input as they are"
    );

    let mut huge = png(1, 1, &[0]);
    huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32fast::hash(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    let short = serde_json::to_vec(&image[..783]).unwrap();
    let fifty_mb = vec![0u8; 50 << 20];
    let blank = png(64, 64, &[255; 64 * 64]);
    // (method, path, content type, body, expected status, expected words in the error)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a [u8], u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/predict",
            Some("image/png"),
            b"",
            400,
            "the body is empty",
        ),
        (
            "POST",
            "/api/predict",
            Some("image/png"),
            b"just some text",
            400,
            "not a picture (PNG, JPEG, ...)",
        ),
        (
            "POST",
            "/api/predict",
            Some("text/plain"),
            b"seven",
            415,
            "Content-Type text/plain",
        ),
        (
            "POST",
            "/api/predict",
            None,
            &levels,
            415,
            "Content-Type missing",
        ),
        (
            "POST",
            "/api/predict",
            Some("image/png"),
            &huge,
            413,
            "100000x100000",
        ),
        (
            "POST",
            "/api/predict",
            Some("image/png"),
            &fifty_mb,
            413,
            "over 2 MiB",
        ),
        (
            "POST",
            "/api/predict",
            Some("image/png"),
            &blank,
            422,
            "blank",
        ),
        (
            "POST",
            "/api/predict",
            Some("application/json"),
            &short,
            422,
            "783 values",
        ),
        (
            "POST",
            "/api/predict",
            Some("application/json"),
            b"{\"pixels\": 7",
            400,
            "not JSON",
        ),
        ("GET", "/api/predict", None, b"", 405, "method not allowed"),
        ("GET", "/etc/passwd", None, b"", 404, "no such page"),
        ("GET", "/../Cargo.toml", None, b"", 404, "no such page"),
    ];
    for (method, path, content_type, body, expected, words) in cases {
        let (status, answer) = server.json(method, path, content_type, body);
        let error = answer["error"].as_str().unwrap_or_default();
        assert_eq!(
            status, expected,
            "{method} {path} ({content_type:?}): {answer}"
        );
        assert!(
            error.contains(words),
            "{method} {path} ({content_type:?}): {error}"
        );
    }
    let (status, _) = server.json("GET", "/healthz", None, b"");
    assert_eq!(status, 200, "still serving after the garbage");
}

#[test]
fn clients_that_hang_up_before_their_answer_do_not_stop_the_server() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let server = Server::start(&sandbox, "run");
    let (image, _) = test_image(2);
    let picture = as_picture(&image);
    for _ in 0..50 {
        let mut stream = TcpStream::connect(&server.address).unwrap();
        let head = format!(
            "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n",
            picture.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&picture).unwrap();
        // Gone without reading: the answer goes to a closed connection. (Whether the kernel
        // then raises SIGPIPE depends on timing; the server ignores it either way.)
        drop(stream);
    }
    // Wait until the server has taken and closed all fifty connections (it closes each once
    // its answer cannot be delivered), then ask it: a crash on the way would show here.
    #[cfg(target_os = "linux")]
    {
        let start = Instant::now();
        while server_side_connections(&server) > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "the server never closed {} of the connections",
                server_side_connections(&server)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let mut server = server;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited"
    );
    let (status, _) = server.json("GET", "/healthz", None, b"");
    assert_eq!(status, 200, "still serving");
}

/// The TCP connections to the server's port still open on its side, accepted or waiting in
/// its listening queue (Linux's /proc/net/tcp, the server listening on 127.0.0.1).
#[cfg(target_os = "linux")]
fn server_side_connections(server: &Server) -> usize {
    let port: u16 = server.address.rsplit(':').next().unwrap().parse().unwrap();
    let local = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // Fields: slot, local address:port, remote, state (0A: listening).
            fields[1].ends_with(&local) && fields[3] != "0A"
        })
        .count()
}

#[test]
fn a_request_still_sending_its_body_after_ten_seconds_is_answered_408() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let server = Server::start(&sandbox, "run");
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    // Promises 1000 bytes, sends 10, then waits.
    stream
        .write_all(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n0123456789")
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("longer than 10 s"), "{answer}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(10),
        "answered after {waited:?}"
    );
}

#[test]
fn eight_clients_at_once_all_get_answers() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let server = Server::start(&sandbox, "run");
    let (image, label) = test_image(1);
    let picture = as_picture(&image);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..50 {
                    let (status, body) = http(
                        &server.address,
                        "POST",
                        "/api/predict",
                        Some("image/png"),
                        &picture,
                    );
                    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
                    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(answer["class"].as_u64(), Some(u64::from(label)));
                }
            });
        }
    });
}

#[test]
fn serve_refuses_a_missing_run_and_a_taken_port_in_one_line() {
    let sandbox = Sandbox::new();
    let missing = sandbox.run(["serve", "--run", "nothing-here"]);
    let line = assert_one_line_error(&missing);
    assert!(line.contains("nothing-here: no such run folder"), "{line}");

    trained_run(&sandbox);
    let server = Server::start(&sandbox, "run");
    let port = server.address.rsplit(':').next().unwrap();
    let taken = sandbox.run(["serve", "--run", "run", "--port", port]);
    let line = assert_one_line_error(&taken);
    assert!(
        line.contains(&format!("127.0.0.1:{port}: cannot listen")),
        "{line}"
    );
}

// ---- The page in a real browser, driven over the DevTools protocol on a pipe ----
/// Chromium with `--remote-debugging-pipe`: commands go in on its fd 3, answers come out on
/// its fd 4, each a JSON text ended by a NUL byte.
struct Browser {
    child: Child,
    to_browser: std::io::PipeWriter,
    from_browser: std::io::BufReader<std::io::PipeReader>,
    next_id: u64,
    session: Option<String>,
}

impl Browser {
    fn start(profile: &Path) -> Self {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let program =
            std::env::var_os("MNIST_TRAINER_CHROMIUM").unwrap_or_else(|| "chromium".into());
        let (commands_read, commands_write) = std::io::pipe().unwrap();
        let (answers_read, answers_write) = std::io::pipe().unwrap();
        let (command_fd, answer_fd) = (commands_read.as_raw_fd(), answers_write.as_raw_fd());
        let mut command = Command::new(&program);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-pipe",
                "--window-size=960,720",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only dup2 between fork and exec, on descriptors this process owns.
        unsafe {
            command.pre_exec(move || {
                // Copies above 9 first, so that neither pipe is overwritten by the other's dup2.
                let command_copy = libc::fcntl(command_fd, libc::F_DUPFD, 10);
                let answer_copy = libc::fcntl(answer_fd, libc::F_DUPFD, 10);
                if command_copy < 0
                    || answer_copy < 0
                    || libc::dup2(command_copy, 3) < 0
                    || libc::dup2(answer_copy, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "{}: cannot start ({e}); the browser test needs Chromium: apt-get install chromium",
                program.to_string_lossy()
            )
        });
        drop((commands_read, answers_write));
        Browser {
            child,
            to_browser: commands_write,
            from_browser: std::io::BufReader::new(answers_read),
            next_id: 0,
            session: None,
        }
    }

    /// Sends one command (to the attached page, once there is one) and returns its result.
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        use std::io::BufRead;
        self.next_id += 1;
        let mut message =
            serde_json::json!({ "id": self.next_id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = session.clone().into();
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .expect("the browser reads commands");
        loop {
            let mut raw = Vec::new();
            let read = self
                .from_browser
                .read_until(0, &mut raw)
                .expect("the browser answers");
            assert!(read > 0, "the browser closed its pipe");
            raw.pop();
            let answer: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            if answer["id"].as_u64() == Some(self.next_id) {
                assert!(answer["error"].is_null(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    fn open(&mut self, url: &str) {
        let target = self.call("Target.createTarget", serde_json::json!({ "url": url }));
        let attached = self.call(
            "Target.attachToTarget",
            serde_json::json!({ "targetId": target["targetId"], "flatten": true }),
        );
        self.session = attached["sessionId"].as_str().map(str::to_string);
    }

    fn eval(&mut self, expression: &str) -> serde_json::Value {
        let result = self.call(
            "Runtime.evaluate",
            serde_json::json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        result["result"]["value"].clone()
    }

    /// Waits (up to a minute) until `expression` is truthy in the page, and returns it.
    fn wait_for(&mut self, expression: &str) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let value = self.eval(expression);
            if !value.is_null() && value != false && value != "" {
                return value;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "never true: {expression}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn mouse(&mut self, kind: &str, (x, y): (f64, f64)) {
        self.call(
            "Input.dispatchMouseEvent",
            serde_json::json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1 }),
        );
    }

    /// One stroke through `points` (fractions of the drawing area), pressed all the way.
    fn stroke(&mut self, area: &serde_json::Value, points: &[(f64, f64)]) {
        let at = |&(fx, fy): &(f64, f64)| {
            let number = |key: &str| area[key].as_f64().unwrap();
            (
                number("left") + fx * number("width"),
                number("top") + fy * number("height"),
            )
        };
        self.mouse("mousePressed", at(&points[0]));
        for pair in points.windows(2) {
            let (from, to) = (at(&pair[0]), at(&pair[1]));
            for step in 1..=8 {
                let t = f64::from(step) / 8.0;
                self.mouse(
                    "mouseMoved",
                    (from.0 + t * (to.0 - from.0), from.1 + t * (to.1 - from.1)),
                );
            }
        }
        self.mouse("mouseReleased", at(points.last().unwrap()));
    }

    fn screenshot(&mut self, path: &Path) {
        let shot = self.call(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png" }),
        );
        std::fs::write(path, base64_decode(shot["data"].as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut bits, mut count) = (0u32, 0);
    for byte in text.bytes().filter(|&b| b != b'=') {
        let value = ALPHABET.iter().position(|&a| a == byte).expect("base64") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// Where the screenshot goes: `MNIST_TRAINER_SCREENSHOT` (the README's is made that way), else
/// the sandbox.
fn screenshot_path(sandbox: &Sandbox) -> PathBuf {
    std::env::var_os("MNIST_TRAINER_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| sandbox.path("serve.png"))
}

/// The page of a trained run's server, open in Chromium once its model is loaded; the server
/// (kept for as long as the page is used), the browser, and the drawing pad's place on screen.
fn open_page(sandbox: &Sandbox) -> (Server, Browser, serde_json::Value) {
    trained_run(sandbox);
    open_page_of(sandbox, "run")
}

/// [`open_page`] serving the sandbox's `run`, trained already.
fn open_page_of(sandbox: &Sandbox, run: &str) -> (Server, Browser, serde_json::Value) {
    let server = Server::start(sandbox, run);
    let mut browser = Browser::start(&sandbox.path("chromium-profile"));
    browser.open(&server.url("/"));
    browser.wait_for("document.body && document.body.dataset.ready === 'true'");
    let area = browser
        .eval("JSON.parse(JSON.stringify(document.getElementById('pad').getBoundingClientRect()))");
    (server, browser, area)
}

/// What the page reads once no request is in flight or waiting (its own `inFlight` and
/// `dirty`): the answer to the whole drawing, not to part of it; empty until then. The page
/// asks again while the drawing changes.
const SETTLED_ANSWER: &str =
    "(!inFlight && !dirty) ? document.getElementById('predicted').textContent : ''";

#[test]
fn a_seven_drawn_with_the_mouse_in_chromium_is_read_as_a_seven() {
    let sandbox = Sandbox::new();
    let (_server, mut browser, area) = open_page(&sandbox);

    // A seven in the middle of the pad (twice as wide as tall): the bar, then the long diagonal
    // stroke down to the left.
    browser.stroke(&area, &[(0.38, 0.22), (0.62, 0.22), (0.48, 0.85)]);
    let read = browser.wait_for(SETTLED_ANSWER);
    let bars = browser.eval("[...document.querySelectorAll('#bars li')].map(li => li.querySelector('.value').textContent)");
    let input_ink = browser.eval(
        "Array.from(document.getElementById('input28').getContext('2d').getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0 && v > 128).length",
    );
    assert_eq!(read, "7", "bars: {bars}");
    assert_eq!(bars.as_array().unwrap().len(), 10);
    assert!(
        input_ink.as_u64().unwrap() > 20,
        "the 28x28 input is shown: {input_ink} ink pixels"
    );

    assert_eq!(
        browser.eval("document.getElementById('boxes').dataset.count"),
        "1"
    );
    // Saving drawings is for a server started with --collect.
    assert_eq!(
        browser.eval("document.getElementById('collect').hidden"),
        true
    );

    // Escape clears the drawing and the answer.
    browser.call(
        "Input.dispatchKeyEvent",
        serde_json::json!({ "type": "keyDown", "key": "Escape", "code": "Escape", "windowsVirtualKeyCode": 27 }),
    );
    assert_eq!(
        browser.eval("document.getElementById('predicted').textContent"),
        ""
    );
}

#[test]
fn a_42_drawn_in_chromium_is_read_as_a_number_with_a_box_around_each_digit() {
    let sandbox = Sandbox::new();
    let (_server, mut browser, area) = open_page(&sandbox);
    // A 4 in two strokes (an open L, then its upright), and a 2 to its right.
    browser.stroke(&area, &[(0.22, 0.15), (0.14, 0.6), (0.34, 0.6)]);
    browser.stroke(&area, &[(0.3, 0.2), (0.3, 0.88)]);
    browser.stroke(
        &area,
        &[
            (0.56, 0.3),
            (0.64, 0.15),
            (0.74, 0.2),
            (0.72, 0.45),
            (0.56, 0.85),
            (0.78, 0.85),
        ],
    );
    let read = browser.wait_for(SETTLED_ANSWER);
    let boxes = browser.eval("document.getElementById('boxes').dataset.count");
    let said = browser.eval("document.getElementById('status').textContent");
    browser.screenshot(&screenshot_path(&sandbox));
    assert_eq!(read, "42", "digits: {said}");
    assert_eq!(boxes, "2");
    // The boxes are drawn over the drawing, not into it: the pad's pixels stay black and white.
    let coloured = browser.eval(
        "(() => { const d = document.getElementById('pad').getContext('2d').getImageData(0, 0, 560, 280).data; let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] !== d[i + 2]) n++; return n; })()",
    );
    assert_eq!(coloured, 0);
}

#[test]
fn a_letter_drawn_in_chromium_is_not_a_digit_to_a_run_trained_with_outliers() {
    let sandbox = Sandbox::new();
    let data = mnist_dir();
    let trained = sandbox.run_on(
        &data,
        &[
            "--valid-size",
            "5000",
            "--outlier-exposure",
            "0.5",
            "--run",
            "taught",
        ],
    );
    assert!(trained.status.success(), "{}", stderr(&trained));
    let calibrated = sandbox.run_on(&data, &["calibrate", "--run", "taught"]);
    assert!(calibrated.status.success(), "{}", stderr(&calibrated));
    let (server, mut browser, area) = open_page_of(&sandbox, "taught");
    // What it answers with, as calibration.json says.
    let (status, model) = server.json("GET", "/api/model", None, b"");
    assert_eq!(status, 200);
    let calibration = read_json(&sandbox.path("taught/calibration.json"));
    assert_eq!(
        model["not_a_digit_below"].as_f64().map(|t| t as f32),
        calibration["not_a_digit_below"].as_f64().map(|t| t as f32),
        "{model}"
    );
    assert_eq!(model["temperature"], calibration["temperature"]);
    // A W in one stroke, which this small network reads far below its threshold. (An M in one
    // stroke was refused when calibrate refused 1% of the held-out digits, and passed as a 4 at
    // 0.8%, when the steadiness test's bound fell from 55% to 52%: read unsurely, near the
    // bounds.)
    browser.stroke(
        &area,
        &[
            (0.38, 0.15),
            (0.44, 0.85),
            (0.5, 0.4),
            (0.56, 0.85),
            (0.62, 0.15),
        ],
    );
    let read = browser.wait_for(SETTLED_ANSWER);
    let said = browser.eval("document.getElementById('status').textContent");
    let boxes = browser.eval("({ ...document.getElementById('boxes').dataset })");
    assert_eq!(read, "not a digit", "{said}");
    assert!(
        said.as_str().unwrap().starts_with("not a digit: "),
        "{said}"
    );
    // Its region boxed as not a digit (dashed, red), none as a digit.
    assert_eq!(boxes["count"], "0", "{boxes}");
    assert_eq!(boxes["notDigits"], "1", "{boxes}");
}

#[test]
fn a_drawing_refused_by_a_fashion_mnist_run_is_none_of_the_classes_not_a_digit() {
    let sandbox = Sandbox::new();
    let trained = sandbox.run([
        "--dataset",
        "fashion-mnist",
        "--limit-train",
        "1000",
        "--epochs",
        "1",
        "--run",
        "fashion",
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    // A threshold of 1 refuses whatever is drawn: the words, not the model, are tested.
    std::fs::write(
        sandbox.path("fashion/calibration.json"),
        r#"{"temperature": 1.0, "held_out_images": 10, "nll_before": 1.0, "nll_after": 1.0,
            "ece_before": 0.1, "ece_after": 0.1, "not_a_digit_below": 1.0}"#,
    )
    .unwrap();
    let (_server, mut browser, area) = open_page_of(&sandbox, "fashion");
    browser.stroke(&area, &[(0.4, 0.2), (0.6, 0.2), (0.6, 0.8), (0.4, 0.8)]);
    let read = browser.wait_for(SETTLED_ANSWER);
    let said = browser.eval("document.getElementById('status').textContent");
    assert_eq!(read, "none of the classes", "{said}");
    assert!(
        said.as_str().unwrap().starts_with("none of the classes: "),
        "{said}"
    );
}

/// How long after connecting the server closed `stream` (a read gave end of file or an
/// error), given up after 30 s; the bytes it sent before closing.
fn closed_after(mut stream: TcpStream, connected: Instant) -> (Duration, Vec<u8>) {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                assert!(
                    connected.elapsed() < Duration::from_secs(30),
                    "still open after 30 s"
                );
            }
            Err(_) => break,
        }
    }
    (connected.elapsed(), answer)
}

#[test]
fn idle_slow_and_kept_alive_clients_are_cut_off_after_ten_seconds() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let server = Server::start(&sandbox, "run");
    let address = server.address.clone();
    let connect = || (TcpStream::connect(&address).unwrap(), Instant::now());
    std::thread::scope(|scope| {
        // Connects and sends nothing.
        let idle = scope.spawn(|| {
            let (stream, connected) = connect();
            closed_after(stream, connected)
        });
        // Sends its headers one byte every second: 25 s for the whole request.
        let slow = scope.spawn(|| {
            let (mut stream, connected) = connect();
            let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
            for byte in request.chunks(1).take(request.len() - 10) {
                if stream.write_all(byte).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            closed_after(stream, connected)
        });
        // Asks once, keeping the connection alive, then idles.
        let kept_alive = scope.spawn(|| {
            let (mut stream, _) = connect();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut first = [0; 12];
            stream.read_exact(&mut first).unwrap();
            assert_eq!(&first, b"HTTP/1.1 200");
            closed_after(stream, Instant::now())
        });
        for (name, client) in [("idle", idle), ("slow", slow), ("kept alive", kept_alive)] {
            let (after, answer) = client.join().unwrap();
            assert!(
                (Duration::from_secs(9)..Duration::from_secs(20)).contains(&after),
                "{name}: closed after {after:?}"
            );
            if name != "kept alive" {
                let answer = String::from_utf8_lossy(&answer);
                assert!(!answer.contains(" 200 "), "{name}: answered {answer}");
            }
        }
    });
    let (status, _) = server.request("GET", "/healthz", None, b"");
    assert_eq!(status, 200, "still serving");
}

#[test]
fn connections_beyond_the_open_file_limit_get_503_and_the_server_recovers() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let mut command = Command::new(env!("CARGO_BIN_EXE_mnist-trainer"));
    command.args(["serve", "--run", "run", "--port", "0"]);
    // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            let limit = libc::rlimit {
                rlim_cur: 128,
                rlim_max: 128,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let server = Server::spawn(&sandbox, command);
    // More idle connections than the server has files for.
    let idle: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(&server.address).unwrap())
        .collect();
    // One GET /healthz on a connection of its own: the answer, or "" when the server closed it
    // unanswered (at its limit, more connections than even the refusals take at once).
    let healthz = || {
        let mut stream = TcpStream::connect(&server.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    };
    // The server still answers at once: "too many connections" while they are open...
    let started = Instant::now();
    let refused = loop {
        let answer = healthz();
        if answer.starts_with("HTTP/1.1 503") {
            break answer;
        }
        assert!(answer.is_empty(), "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no answer within 5 s of 150 idle connections"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(refused.contains("too many connections"), "{refused}");
    // ... and healthy again once the idle ones are cut off, while they are still open on this
    // side (until then refused, or on a loaded machine closed unanswered as above).
    let started = Instant::now();
    loop {
        let answer = healthz();
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 503"),
            "{answer}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "idle connections still held after 20 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(idle);
}

/// Children of process `pid` (Linux's /proc), as `ps --ppid` lists them.
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|child| child.parse().unwrap())
        .collect()
}

#[test]
fn serve_as_pid_1_of_a_container_stops_on_sigterm_and_sigint_with_their_exit_codes() {
    use std::os::unix::process::ExitStatusExt;
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        // A new PID namespace, as `docker run` without `--init` gives: the server is its PID 1.
        let mut command = Command::new("unshare");
        command
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(env!("CARGO_BIN_EXE_mnist-trainer"))
            .args(["serve", "--run", "run", "--port", "0"]);
        let probe = Command::new("unshare")
            .args(["--pid", "--fork", "true"])
            .status();
        if !probe.is_ok_and(|status| status.success()) {
            // A new PID namespace needs root, as CI runs. Without it the test fails rather
            // than passing unseen, unless MNIST_TRAINER_NO_ROOT=1 says to skip it knowingly.
            assert!(
                std::env::var_os("MNIST_TRAINER_NO_ROOT").is_some_and(|value| value == "1"),
                "unshare --pid needs root (CI runs as root); set MNIST_TRAINER_NO_ROOT=1 to skip this test"
            );
            eprintln!("skipped (MNIST_TRAINER_NO_ROOT=1): unshare --pid needs root");
            return;
        }
        let mut server = Server::spawn(&sandbox, command);
        let (status, _) = server.request("GET", "/healthz", None, b"");
        assert_eq!(status, 200);
        let pid_1 = children_of(server.child.id());
        assert_eq!(pid_1.len(), 1, "unshare's one child: {pid_1:?}");
        // SAFETY: a signal to the server this test started.
        unsafe { libc::kill(pid_1[0] as libc::pid_t, signal) };
        let what = format!("the server sent signal {signal}");
        let status = wait_within(&mut server.child, Duration::from_secs(30), &what);
        // unshare exits with its child's code, or dies by the signal that killed the child.
        assert_eq!(
            (status.code(), status.signal()),
            (Some(code), None),
            "signal {signal}"
        );
    }
}

/// The state (`/proc/net/tcp`'s hex code: `01` established) of the server's side of the
/// connection from local port `client` to the server.
#[cfg(target_os = "linux")]
fn server_side_state(server: &Server, client: u16) -> Option<String> {
    let port: u16 = server.address.rsplit(':').next().unwrap().parse().unwrap();
    let (local, remote) = (format!(":{port:04X}"), format!(":{client:04X}"));
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[1].ends_with(&local) && fields[2].ends_with(&remote))
                .then(|| fields[3].to_string())
        })
}

#[cfg(target_os = "linux")]
#[test]
fn a_client_that_never_reads_its_answers_is_cut_off() {
    use std::os::fd::AsRawFd;
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let server = Server::start(&sandbox, "run");
    // Asks for the page 2,000 times in one go, with a tiny receive window, and reads nothing:
    // the server's writes fill both sides' buffers and then wait.
    let mut stream = TcpStream::connect(&server.address).unwrap();
    let size: libc::c_int = 4096;
    // SAFETY: a valid socket and a pointer to an int of the size given.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let _ = stream.write_all(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000));
    let client = stream.local_addr().unwrap().port();
    let started = Instant::now();
    // Held while its writes wait, let go 10 s after the last byte went out: the server's side
    // is then no longer an established connection.
    while server_side_state(&server, client).as_deref() == Some("01") {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "a client that reads nothing still held its connection after 40 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "cut off at once"
    );
    drop(stream);
    let (status, _) = server.request("GET", "/healthz", None, b"");
    assert_eq!(status, 200);
}

#[test]
fn the_api_reads_a_number_with_the_fields_infer_json_prints() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    // MNIST's first four test digits, 7 2 1 0, side by side.
    let (page, _) = number_picture(&mnist_dir(), &[0, 1, 2, 3], 4, None);
    page.save(sandbox.path("number.png")).unwrap();
    let output = sandbox.run(["infer", "--run", "run", "--json", "number.png"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();

    let server = Server::start(&sandbox, "run");
    let body = std::fs::read(sandbox.path("number.png")).unwrap();
    let (status, answer) = server.json("POST", "/api/predict", Some("image/png"), &body);
    assert_eq!(status, 200, "{answer}");
    // The same reading: every field infer prints but the file's name, as it prints it.
    for (field, value) in printed.as_object().unwrap() {
        if field != "file" {
            assert_eq!(&answer[field], value, "{field}");
        }
    }
    assert_eq!(answer["digits"].as_array().unwrap().len(), 4, "{answer}");
    assert_eq!(answer["class"], serde_json::Value::Null);
    // Each digit's 28x28 input, and no single `input` for a number.
    let inputs = answer["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 4);
    assert!(
        inputs
            .iter()
            .all(|input| input.as_array().unwrap().len() == 784)
    );
    assert!(answer.get("input").is_none(), "{answer}");
}

// ---- serve --collect DIR: drawings saved with their class ----

/// The names of the files in `dir`, sorted; none when it does not exist.
fn names_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn collect_saves_pictures_byte_for_byte_by_class_and_refuses_bad_ones_writing_nothing() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let server = Server::start_with(&sandbox, "run", &["--collect", "collected"]);
    let collected = sandbox.path("collected");
    assert!(collected.is_dir(), "DIR is created when the server starts");
    let (status, model) = server.json("GET", "/api/model", None, b"");
    assert_eq!((status, &model["collect"]), (200, &serde_json::json!(true)));

    // Two different pictures, both said to be a 3: two new files, each the bytes posted.
    let pictures = [drawn_digit_png(18), drawn_digit_png(30)];
    let mut saved = Vec::new();
    for (at, picture) in pictures.iter().enumerate() {
        let (status, answer) =
            server.json("POST", "/api/collect?class=3", Some("image/png"), picture);
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["class"], 3, "{answer}");
        assert_eq!(answer["count"], at + 1, "{answer}");
        let path = answer["saved"].as_str().unwrap().to_string();
        let name = path
            .strip_prefix("3/")
            .unwrap_or_else(|| panic!("{answer}"));
        assert!(
            name.starts_with("drawn-") && name.ends_with(".png") && !name.contains('/'),
            "{answer}"
        );
        assert_eq!(&std::fs::read(collected.join(&path)).unwrap(), picture);
        saved.push(name.to_string());
    }
    assert_ne!(saved[0], saved[1]);
    saved.sort();
    assert_eq!(names_in(&collected.join("3")), saved);
    // The same picture again is one more file, not a replaced one.
    let (status, answer) = server.json(
        "POST",
        "/api/collect?class=3",
        Some("image/png"),
        &pictures[0],
    );
    assert_eq!((status, &answer["count"]), (201, &serde_json::json!(3)));

    let before = fingerprint(sandbox.dir.path());
    let blank = png(64, 64, &[255; 64 * 64]);
    let over_2_mib = vec![0u8; 3 << 20];
    let picture = &pictures[0];
    // (path and query, content type, body, expected status, expected words in the error)
    type Case<'a> = (&'a str, Option<&'a str>, &'a [u8], u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "/api/collect?class=10",
            Some("image/png"),
            picture,
            400,
            "class=10: ",
        ),
        (
            "/api/collect?class=x",
            Some("image/png"),
            picture,
            400,
            "class=x: ",
        ),
        (
            "/api/collect?class=../1",
            Some("image/png"),
            picture,
            400,
            "class=../1: ",
        ),
        (
            "/api/collect?class=..%2F1",
            Some("image/png"),
            picture,
            400,
            "class=..%2F1: ",
        ),
        (
            "/api/collect?class=03",
            Some("image/png"),
            picture,
            400,
            "from 0 to 9",
        ),
        ("/api/collect", Some("image/png"), picture, 400, "no class"),
        (
            "/api/collect?class=3&class=4",
            Some("image/png"),
            picture,
            400,
            "more than once",
        ),
        (
            "/api/collect?class=3",
            Some("image/png"),
            b"",
            400,
            "the body is empty",
        ),
        (
            "/api/collect?class=3",
            Some("image/png"),
            b"just some text",
            400,
            "not a picture",
        ),
        (
            "/api/collect?class=3",
            Some("image/png"),
            &blank,
            422,
            "blank",
        ),
        (
            "/api/collect?class=3",
            Some("application/json"),
            b"[1, 2]",
            415,
            "Content-Type application/json",
        ),
        (
            "/api/collect?class=3",
            None,
            picture,
            415,
            "Content-Type missing",
        ),
        (
            "/api/collect?class=3",
            Some("image/png"),
            &over_2_mib,
            413,
            "over 2 MiB",
        ),
    ];
    for (path, content_type, body, expected, words) in cases {
        let (status, answer) = server.json("POST", path, content_type, body);
        let error = answer["error"].as_str().unwrap_or_default();
        assert_eq!(status, expected, "{path} ({content_type:?}): {answer}");
        assert!(error.contains(words), "{path} ({content_type:?}): {error}");
    }
    let (status, answer) = server.json("GET", "/api/collect?class=3", None, b"");
    assert_eq!(status, 405, "{answer}");
    assert_eq!(
        changes(&before, &fingerprint(sandbox.dir.path())),
        Vec::<String>::new(),
        "a refused request writes nothing"
    );
    assert_eq!(names_in(&collected), ["3"], "no other folder made");
}

#[test]
fn without_collect_the_collect_route_refuses_in_one_line_and_writes_nothing() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let server = Server::start(&sandbox, "run");
    let before = fingerprint(sandbox.dir.path());
    let (status, model) = server.json("GET", "/api/model", None, b"");
    assert_eq!(
        (status, &model["collect"]),
        (200, &serde_json::json!(false))
    );
    for method in ["POST", "GET"] {
        let (status, answer) = server.json(
            method,
            "/api/collect?class=3",
            Some("image/png"),
            &drawn_digit_png(18),
        );
        let error = answer["error"].as_str().unwrap_or_default();
        assert_eq!(status, 404, "{method}: {answer}");
        assert!(
            error.contains("start serve with --collect DIR") && !error.contains('\n'),
            "{method}: {error}"
        );
    }
    let (_, answer) = server.json("GET", "/nowhere", None, b"");
    assert!(
        answer["error"].as_str().unwrap().contains("/api/collect"),
        "the routes listed: {answer}"
    );
    assert_eq!(
        changes(&before, &fingerprint(sandbox.dir.path())),
        Vec::<String>::new()
    );
    assert_eq!(names_in(sandbox.dir.path()), ["run"]);
}

/// `serve` with `args`, expected to end by itself: its output once it has (within a minute; a
/// server that starts instead fails the test).
fn serve_ending(sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mnist-trainer"))
        .args(["serve", "--run", "run", "--port", "0"])
        .args(args)
        .current_dir(sandbox.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    wait_within(
        &mut child,
        Duration::from_secs(60),
        "serve with a bad --collect",
    );
    child.wait_with_output().unwrap()
}

/// A tmpfs mounted at `path` with `options` for as long as it lives (root only, as CI runs);
/// `None` without root.
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(path: PathBuf, options: &str) -> Option<Self> {
        std::fs::create_dir_all(&path).unwrap();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(mounted.success(), "mount -o {options} {}", path.display());
        Some(Self(path))
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_collect_folder_that_cannot_be_made_or_written_is_refused_in_one_line_before_serving() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let before = fingerprint(sandbox.dir.path());

    let missing = serve_ending(&sandbox, &["--collect", "no/such"]);
    let line = assert_one_line_error(&missing);
    assert!(
        line.contains("--collect no/such: ")
            && line.contains("its parent folder no does not exist"),
        "{line}"
    );
    assert!(
        stdout(&missing).is_empty(),
        "never served: {}",
        stdout(&missing)
    );
    assert!(!sandbox.path("no").exists(), "no parent made");

    std::fs::write(sandbox.path("a-file"), b"kept").unwrap();
    let file = serve_ending(&sandbox, &["--collect", "a-file"]);
    let line = assert_one_line_error(&file);
    assert!(line.contains("--collect a-file: is a file"), "{line}");
    assert_eq!(std::fs::read(sandbox.path("a-file")).unwrap(), b"kept");

    // Read-only: a read-only file system as root (permissions do not stop root), else a
    // folder without write permission.
    let read_only = sandbox.path("read-only");
    let mounted = Mounted::tmpfs(read_only.clone(), "ro,size=64k");
    if mounted.is_none() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let unwritable = serve_ending(&sandbox, &["--collect", "read-only"]);
    let line = assert_one_line_error(&unwritable);
    assert!(
        line.contains("--collect read-only: cannot write in it"),
        "{line}"
    );
    assert!(names_in(&read_only).is_empty());

    std::fs::remove_file(sandbox.path("a-file")).unwrap();
    assert_eq!(
        changes(&before, &fingerprint(sandbox.dir.path())),
        Vec::<String>::new()
    );
}

#[test]
fn a_picture_that_does_not_fit_on_the_disk_leaves_nothing_and_the_next_one_is_saved() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let Some(_disk) = Mounted::tmpfs(sandbox.path("collected"), "size=64k") else {
        assert!(
            std::env::var_os("MNIST_TRAINER_NO_ROOT").is_some_and(|value| value == "1"),
            "mounting a small tmpfs needs root (CI runs as root); set MNIST_TRAINER_NO_ROOT=1 to skip this test"
        );
        eprintln!("skipped (MNIST_TRAINER_NO_ROOT=1): mounting a small tmpfs needs root");
        return;
    };
    let server = Server::start_with(&sandbox, "run", &["--collect", "collected"]);
    // A digit on 1000x1000 paper speckled with light grey: about 700 kB of PNG, over the
    // disk's 64 kB.
    let digit = image::imageops::resize(
        &mnist_test_digit(&mnist_dir(), 18),
        500,
        500,
        image::imageops::FilterType::Nearest,
    );
    let mut state = 0x2545_f491_u32;
    let grey: Vec<u8> = (0..1000 * 1000)
        .map(|i: usize| {
            let (x, y) = (i % 1000, i / 1000);
            if (250..750).contains(&x)
                && (250..750).contains(&y)
                && digit.get_pixel(x as u32 - 250, y as u32 - 250)[0] > 128
            {
                0
            } else {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                200 + (state % 56) as u8
            }
        })
        .collect();
    let large = png(1000, 1000, &grey);
    assert!(
        large.len() > 200_000 && large.len() < 2 << 20,
        "{}",
        large.len()
    );
    let (status, answer) = server.json("POST", "/api/collect?class=3", Some("image/png"), &large);
    assert_eq!(status, 500, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.starts_with("cannot save the picture in 3/: ") && error.contains("No space left"),
        "{error}"
    );
    assert_eq!(
        names_in(&sandbox.path("collected/3")),
        Vec::<String>::new(),
        "nothing left of it"
    );
    let small = drawn_digit_png(18);
    let (status, answer) = server.json("POST", "/api/collect?class=3", Some("image/png"), &small);
    assert_eq!(
        (status, &answer["count"]),
        (201, &serde_json::json!(1)),
        "{answer}"
    );
    let saved = sandbox
        .path("collected")
        .join(answer["saved"].as_str().unwrap());
    assert_eq!(std::fs::read(saved).unwrap(), small);
}

#[test]
fn a_drawing_saved_with_its_class_button_in_chromium_lands_in_that_class_folder() {
    let sandbox = Sandbox::new();
    trained_run(&sandbox);
    let server = Server::start_with(&sandbox, "run", &["--collect", "collected"]);
    let mut browser = Browser::start(&sandbox.path("chromium-profile"));
    browser.open(&server.url("/"));
    browser.wait_for("document.body && document.body.dataset.ready === 'true'");
    assert_eq!(
        browser.eval("document.getElementById('collect').hidden"),
        false
    );
    let labels = browser.eval(
        "[...document.querySelectorAll('#collect-classes button')].map(b => b.getAttribute('aria-label'))",
    );
    assert_eq!(labels.as_array().unwrap().len(), 10, "{labels}");
    assert_eq!(labels[7], "Save the drawing as a 7");
    let button = "document.querySelector('#collect-classes button[data-class=\"7\"]')";
    assert_eq!(
        browser.eval(&format!("{button}.disabled")),
        true,
        "nothing drawn yet"
    );

    let area = browser
        .eval("JSON.parse(JSON.stringify(document.getElementById('pad').getBoundingClientRect()))");
    browser.stroke(&area, &[(0.38, 0.22), (0.62, 0.22), (0.48, 0.85)]);
    browser.wait_for(SETTLED_ANSWER);
    let drawn = browser.eval("document.getElementById('pad').toDataURL('image/png')");
    let drawn = base64_decode(drawn.as_str().unwrap().split_once(',').unwrap().1);
    // Clicked as a person clicks it, in the middle.
    let place = browser.eval(&format!(
        "JSON.parse(JSON.stringify({button}.getBoundingClientRect()))"
    ));
    let middle =
        |key: &str, size: &str| place[key].as_f64().unwrap() + place[size].as_f64().unwrap() / 2.0;
    let at = (middle("left", "width"), middle("top", "height"));
    browser.mouse("mousePressed", at);
    browser.mouse("mouseReleased", at);
    let said = browser.wait_for(
        "(t => t.startsWith('saved as') || t.startsWith('not saved') ? t : '')(document.getElementById('collect-status').textContent)",
    );
    let files = names_in(&sandbox.path("collected/7"));
    assert_eq!(files.len(), 1, "{said}: {files:?}");
    assert_eq!(said, format!("saved as 7/{} (1 picture of 7)", files[0]));
    assert_eq!(names_in(&sandbox.path("collected")), ["7"]);
    // The file is the drawing, pixel for pixel.
    let saved = image::load_from_memory(
        &std::fs::read(sandbox.path("collected/7").join(&files[0])).unwrap(),
    )
    .unwrap()
    .to_rgba8();
    let drawn = image::load_from_memory(&drawn).unwrap().to_rgba8();
    assert_eq!(saved.dimensions(), (560, 280));
    assert!(saved == drawn, "the saved picture differs from the drawing");
    // The pad is cleared for the next one, so the same drawing is not saved twice by mistake.
    assert_eq!(browser.eval("hasInk"), false);
    assert_eq!(browser.eval(&format!("{button}.disabled")), true);
}
