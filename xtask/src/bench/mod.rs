//! `cargo xtask bench`: whole-process benchmarks of callaudit against libpcap's own read loop,
//! ndpiReader and tshark on the same capture (docs/performance.md).
//!
//! Method:
//! - the capture is built by `capture::write` from the project's fixtures (≥ 1 GB by default)
//!   and kept in `--dir` for the next run;
//! - the file is read once before timing so every tool reads it from the page cache;
//! - every tool is run `--runs` times as a whole process and the median wall time is quoted;
//! - peak memory is the process's maximum resident set (getrusage), measured by a small child
//!   (`xtask measure`) that runs one tool and nothing else, so figures don't mix.
//!
//! `--quick` is the CI mode: a 64 MB capture, callaudit and libpcap only, a few seconds; it
//! prints the figures and never fails on them (a timed test on a shared machine would flake).

mod capture;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const MB: u64 = 1_000_000;

struct Options {
    dir: PathBuf,
    size: u64,
    runs: usize,
    quick: bool,
    peers: bool,
    tshark_size: u64,
    linearity: Vec<u64>,
    jobs: bool,
    callaudit: Option<PathBuf>,
    /// Replicate the reference captures of ../shared/corpus instead of the fixtures.
    corpus: Option<PathBuf>,
    clients: Option<u32>,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask has no parent folder")?
        .to_path_buf();
    let fixtures = root.join("fixtures");
    std::fs::create_dir_all(&options.dir).map_err(|e| format!("{}: {e}", options.dir.display()))?;
    let callaudit = match &options.callaudit {
        Some(path) => path.clone(),
        None => build_callaudit(&root)?,
    };
    let (scene, scene_name, clients) = match &options.corpus {
        Some(dir) => (
            capture::corpus_scene(dir)?,
            "corpus",
            capture::CORPUS_CLIENTS,
        ),
        None => (
            capture::fixture_scene(&fixtures)?,
            "fixtures",
            capture::FIXTURE_CLIENTS,
        ),
    };
    let clients = options.clients.unwrap_or(clients);
    println!(
        "scene: {scene_name} ({} packets, replayed by {clients} clients, one replica every {} ms)",
        scene.len(),
        capture::STEP_US / 1000
    );
    let bench = Bench {
        scene: &scene,
        scene_name,
        clients,
        dir: options.dir.clone(),
        runs: options.runs,
        callaudit,
    };
    bench.machine();
    let main = bench.capture(options.size, 0)?;
    println!();
    println!("== Single file, single thread: {} ==", main.describe());
    // The tools on the whole file take turns, run by run, so that a noisy spell of the host
    // slows them alike and their ratios hold.
    let mut tools = vec![bench.callaudit_tool(&[&main.path], 1)];
    if installed("tcpdump") {
        tools.push(tcpdump(&main.path));
    }
    if options.peers && !options.quick && installed("ndpiReader") {
        tools.push(ndpi_reader(&main.path));
    }
    let mut rows = bench.measure_in_turn(&tools, &main)?;
    let ours = rows[0].clone();
    if options.peers && !options.quick && installed("tshark") {
        // tshark takes minutes per GB: it runs once, on a prefix of the same stream.
        let slice = bench.capture(options.tshark_size.min(options.size), 0)?;
        let tool = tshark(&slice.path, &root.join("data/geoip"), &bench.dir)?;
        let once = Bench {
            runs: 1,
            ..bench.clone()
        };
        rows.push(once.measure(&tool, &slice)?);
    }
    print_rows(&rows, Some(&ours));
    if !options.quick {
        // One more, untimed run: where callaudit's own time goes, stage by stage.
        println!("{}", bench.stages(&bench.callaudit_tool(&[&main.path], 1))?);
    }
    if !options.linearity.is_empty() {
        println!();
        println!("== Linearity: callaudit, single thread ==");
        let mut rows = Vec::new();
        for &size in &options.linearity {
            let capture = bench.capture(size, 0)?;
            rows.push(bench.measure(&bench.callaudit_tool(&[&capture.path], 1), &capture)?);
        }
        print_rows(&rows, Some(&ours));
    }
    if options.jobs {
        println!();
        let second = bench.capture(options.size, 1)?;
        let both = Capture {
            path: PathBuf::from(format!(
                "{} + {}",
                main.path.display(),
                second.path.display()
            )),
            packets: main.packets + second.packets,
            bytes: main.bytes + second.bytes,
        };
        println!(
            "== Two files, --jobs 1 against --jobs 2: {} ==",
            both.describe()
        );
        let runs = bench.measure_in_turn(
            &[
                bench.callaudit_tool(&[&main.path, &second.path], 1),
                bench.callaudit_tool(&[&main.path, &second.path], 2),
                bench.two_processes_tool(&main.path, &second.path),
            ],
            &both,
        )?;
        let (one, two, apart) = (&runs[0], &runs[1], &runs[2]);
        print_rows(&runs, None);
        println!(
            "scaling: --jobs 2 is {:.2}x --jobs 1 on 2 files; two processes, one per file, {:.2}x",
            one.median_s() / two.median_s(),
            one.median_s() / apart.median_s()
        );
    }
    if options.quick {
        println!();
        let vs_libpcap = rows
            .iter()
            .find(|r| r.tool == "tcpdump")
            .map(|r| {
                format!(
                    ", {:.0}% of libpcap's read loop",
                    100.0 * ours.rate() / r.rate()
                )
            })
            .unwrap_or_default();
        println!(
            "bench: callaudit {:.2} M packets/s, {:.0} MB/s, peak {:.0} MB{vs_libpcap} (a report, not a gate)",
            ours.rate() / 1e6,
            ours.mb_rate(),
            ours.peak_mb(),
        );
    }
    Ok(())
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        dir: PathBuf::from("target/bench"),
        size: 1000 * MB,
        runs: 5,
        quick: false,
        peers: true,
        tshark_size: 100 * MB,
        linearity: Vec::new(),
        jobs: false,
        callaudit: None,
        corpus: None,
        clients: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--dir" => options.dir = PathBuf::from(value()?),
            "--size" => options.size = size(&value()?)?,
            "--runs" => {
                options.runs = value()?
                    .parse()
                    .map_err(|_| "--runs takes a number".to_string())?
            }
            "--quick" => {
                options.quick = true;
                options.size = 64 * MB;
                options.runs = 3;
            }
            "--no-peers" => options.peers = false,
            "--tshark-size" => options.tshark_size = size(&value()?)?,
            "--linearity" => {
                options.linearity = value()?.split(',').map(size).collect::<Result<_, _>>()?
            }
            "--jobs" => options.jobs = true,
            "--all" => {
                options.linearity = vec![100 * MB, 1000 * MB, 10_000 * MB];
                options.jobs = true;
            }
            "--callaudit" => options.callaudit = Some(PathBuf::from(value()?)),
            "--corpus" => options.corpus = Some(PathBuf::from(value()?)),
            "--clients" => {
                options.clients = Some(
                    value()?
                        .parse()
                        .ok()
                        .filter(|n| (1..=60_000).contains(n))
                        .ok_or("--clients takes a number from 1 to 60000")?,
                )
            }
            other => {
                return Err(format!(
                    "unknown option {other}; usage: cargo xtask bench [--quick] [--all] \
                     [--size 1G] [--runs 5] [--dir DIR] [--no-peers] [--tshark-size 100M] \
                     [--linearity 100M,1G,10G] [--jobs] [--callaudit PATH] [--corpus DIR] [--clients N]"
                ))
            }
        }
    }
    if options.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(options)
}

/// "100M", "1G", "10G" or a byte count; decimal units, as disks and `ls -h --si` count.
fn size(text: &str) -> Result<u64, String> {
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let number: f64 = number
        .parse()
        .map_err(|_| format!("not a size: {text} (try 100M or 1G)"))?;
    let unit = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" => 1000,
        "M" | "MB" => MB,
        "G" | "GB" => 1000 * MB,
        _ => return Err(format!("not a size: {text} (try 100M or 1G)")),
    };
    Ok((number * unit as f64) as u64)
}

fn build_callaudit(root: &Path) -> Result<PathBuf, String> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--bin", "callaudit"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err("cargo build --release failed".into());
    }
    Ok(root.join("target/release/callaudit"))
}

#[derive(Clone)]
struct Bench<'s> {
    scene: &'s [capture::Template],
    scene_name: &'static str,
    clients: u32,
    dir: PathBuf,
    runs: usize,
    callaudit: PathBuf,
}

struct Capture {
    path: PathBuf,
    packets: u64,
    bytes: u64,
}

impl Capture {
    fn describe(&self) -> String {
        format!(
            "{} ({:.2} GB, {} packets, {} bytes/packet)",
            self.path.display(),
            self.bytes as f64 / 1e9,
            thousands(self.packets),
            (self.bytes - 24) / self.packets.max(1) - 16
        )
    }
}

struct Tool {
    /// Short name for the table.
    tool: String,
    /// The command as a reader could type it.
    shown: String,
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Exit codes that mean the run worked (callaudit exits 1 when it has findings).
    ok_codes: Vec<i32>,
    /// The files the tool writes, removed before every run: each run writes new files, as a
    /// user's would. Overwriting the last run's report instead makes the kernel free its pages
    /// inside the timed run (about 0.1 s for a 170 MB report).
    outputs: Vec<PathBuf>,
}

impl Tool {
    /// Removes the files the tool writes that are there.
    fn remove_output(&self) -> Result<(), String> {
        for output in &self.outputs {
            match std::fs::remove_file(output) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", output.display())),
            }
        }
        Ok(())
    }
}

#[derive(Clone)]
struct Measured {
    tool: String,
    shown: String,
    packets: u64,
    bytes: u64,
    wall_s: Vec<f64>,
    peak_kb: u64,
}

impl Measured {
    fn median_s(&self) -> f64 {
        let mut sorted = self.wall_s.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    }
    fn rate(&self) -> f64 {
        self.packets as f64 / self.median_s()
    }
    fn mb_rate(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.median_s()
    }
    fn peak_mb(&self) -> f64 {
        self.peak_kb as f64 / 1024.0
    }
}

impl Bench<'_> {
    fn machine(&self) {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
            .map_or("?".into(), |kb| format!("{:.0} GiB", kb as f64 / 1048576.0));
        println!("machine: {cpu}, {cores} cores, {memory} RAM");
        println!(
            "method: whole process, median of {} runs, file in page cache, wall time",
            self.runs
        );
        println!("callaudit: {}", self.callaudit.display());
        for (name, version) in [
            ("tcpdump", "--version"),
            ("ndpiReader", "-h"),
            ("tshark", "--version"),
        ] {
            if installed(name) {
                let out = Command::new(name).arg(version).output();
                let text = out
                    .map(|o| {
                        let mut text = String::from_utf8_lossy(&o.stdout).to_string();
                        text.push_str(&String::from_utf8_lossy(&o.stderr));
                        text
                    })
                    .unwrap_or_default();
                let line = text
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim();
                println!("{name}: {line}");
            } else {
                println!("{name}: not installed, skipped");
            }
        }
    }

    /// The benchmark capture of `size` bytes for `seed`, made if it is not already there.
    fn capture(&self, size: u64, seed: u32) -> Result<Capture, String> {
        let name = format!(
            "bench-{}-{}c-{}-seed{seed}.pcap",
            self.scene_name,
            self.clients,
            size_name(size)
        );
        let path = self.dir.join(&name);
        let info = self.dir.join(format!("{name}.info"));
        let known = std::fs::read_to_string(&info).ok().and_then(|text| {
            let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
            Some((fields.next()??, fields.next()??))
        });
        let on_disk = std::fs::metadata(&path).map(|m| m.len()).ok();
        let (packets, bytes) = match known {
            Some((packets, bytes)) if on_disk == Some(bytes) => (packets, bytes),
            _ => {
                eprintln!("making {} ...", path.display());
                let started = Instant::now();
                let written = capture::write(self.scene, self.clients, &path, size, seed)?;
                eprintln!(
                    "  {} packets in {:.1} s",
                    thousands(written.packets),
                    started.elapsed().as_secs_f64()
                );
                std::fs::write(&info, format!("{} {}\n", written.packets, written.bytes))
                    .map_err(|e| format!("{}: {e}", info.display()))?;
                (written.packets, written.bytes)
            }
        };
        warm(&path)?;
        Ok(Capture {
            path,
            packets,
            bytes,
        })
    }

    fn callaudit_tool(&self, files: &[&Path], jobs: usize) -> Tool {
        let out = self.dir.join("callaudit-report.json");
        let mut args = vec![
            "audit".to_string(),
            "--format".into(),
            "json".into(),
            "-o".into(),
            out.display().to_string(),
            "--jobs".into(),
            jobs.to_string(),
        ];
        args.extend(files.iter().map(|f| f.display().to_string()));
        Tool {
            tool: if files.len() > 1 {
                format!("callaudit --jobs {jobs}")
            } else {
                "callaudit".into()
            },
            shown: format!("callaudit audit --format json -o report.json --jobs {jobs} FILE"),
            program: self.callaudit.display().to_string(),
            args,
            env: Vec::new(),
            ok_codes: vec![0, 1],
            outputs: vec![out],
        }
    }

    /// Two callaudit processes at once, one per file (each `--jobs 1`, its own report): what
    /// two independent readers gain on this machine, the yardstick for `--jobs 2`.
    fn two_processes_tool(&self, first: &Path, second: &Path) -> Tool {
        let outputs = [
            self.dir.join("callaudit-report-a.json"),
            self.dir.join("callaudit-report-b.json"),
        ];
        // Both must succeed (0, or 1 for findings); the shell waits for the one in the
        // background.
        let script = "\"$0\" audit --format json -o \"$1\" --jobs 1 \"$2\" & first=$!; \
             \"$0\" audit --format json -o \"$3\" --jobs 1 \"$4\"; second=$?; \
             wait $first; first=$?; [ $first -le 1 ] && [ $second -le 1 ]";
        Tool {
            tool: "2 processes".into(),
            shown: "callaudit audit ... FILE1 & callaudit audit ... FILE2; wait".into(),
            program: "sh".into(),
            args: vec![
                "-c".into(),
                script.into(),
                self.callaudit.display().to_string(),
                outputs[0].display().to_string(),
                first.display().to_string(),
                outputs[1].display().to_string(),
                second.display().to_string(),
            ],
            env: Vec::new(),
            ok_codes: vec![0],
            outputs: outputs.to_vec(),
        }
    }

    /// callaudit's own account of one run (`--timings`): reading, settling, writing.
    fn stages(&self, tool: &Tool) -> Result<String, String> {
        tool.remove_output()?;
        let output = Command::new(&tool.program)
            .args(&tool.args)
            .arg("--timings")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", tool.program))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .skip_while(|line| !line.starts_with("callaudit: timings"))
            .collect();
        if lines.is_empty() {
            return Err(format!(
                "{} --timings printed no timings: {stderr}",
                tool.tool
            ));
        }
        Ok(lines.join("\n"))
    }

    /// Runs a tool `runs` times on a capture (after one untimed warm-up run).
    fn measure(&self, tool: &Tool, capture: &Capture) -> Result<Measured, String> {
        let mut measured = self.measure_in_turn(std::slice::from_ref(tool), capture)?;
        Ok(measured.remove(0))
    }

    /// Runs each tool `runs` times on a capture, the tools taking turns run by run (after one
    /// untimed warm-up run of each).
    fn measure_in_turn(&self, tools: &[Tool], capture: &Capture) -> Result<Vec<Measured>, String> {
        for tool in tools {
            eprintln!("running {} on {} ...", tool.tool, capture.path.display());
        }
        let mut measured: Vec<Measured> = tools
            .iter()
            .map(|tool| Measured {
                tool: tool.tool.clone(),
                shown: tool.shown.clone(),
                packets: capture.packets,
                bytes: capture.bytes,
                wall_s: Vec::new(),
                peak_kb: 0,
            })
            .collect();
        // One run only when one is asked for (tshark): no warm-up then.
        let first_timed = usize::from(self.runs > 1);
        for run in 0..self.runs + first_timed {
            for (tool, measured) in tools.iter().zip(&mut measured) {
                tool.remove_output()?;
                let (wall_s, peak_kb) = measure_once(tool)?;
                if run >= first_timed {
                    measured.wall_s.push(wall_s);
                    measured.peak_kb = measured.peak_kb.max(peak_kb);
                }
            }
        }
        Ok(measured)
    }
}

/// One run through `xtask measure`, which reports the wall time and peak memory of its child.
fn measure_once(tool: &Tool) -> Result<(f64, u64), String> {
    let me = std::env::current_exe().map_err(|e| format!("xtask's own path: {e}"))?;
    let output = Command::new(me)
        .arg("measure")
        .arg(&tool.program)
        .args(&tool.args)
        .envs(tool.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e}", tool.program))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace();
    let (Some(wall), Some(peak), Some(code)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(format!("{}: measure printed {text:?}", tool.tool));
    };
    let code: i32 = code.parse().unwrap_or(-1);
    if !tool.ok_codes.contains(&code) {
        return Err(format!("{} exited with {code}", tool.tool));
    }
    Ok((
        wall.parse().map_err(|_| "bad wall time")?,
        peak.parse().map_err(|_| "bad peak")?,
    ))
}

/// `xtask measure PROGRAM ARGS...`: runs the program with its output thrown away and prints
/// "wall_seconds peak_rss_kb exit_code". Being the program's only child's parent is what makes
/// getrusage(RUSAGE_CHILDREN) that program's own peak.
pub fn measure(args: &[String]) -> Result<(), String> {
    let (program, rest) = args.split_first().ok_or("measure needs a program")?;
    let started = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("{program}: {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map_err(|e| format!("getrusage: {e}"))?;
    println!(
        "{wall:.6} {} {}",
        usage.max_rss(),
        status.code().unwrap_or(-1)
    );
    Ok(())
}

fn tcpdump(file: &Path) -> Tool {
    Tool {
        tool: "tcpdump".into(),
        shown: "tcpdump -r FILE -w /dev/null".into(),
        program: "tcpdump".into(),
        args: vec![
            "-r".into(),
            file.display().to_string(),
            "-w".into(),
            "/dev/null".into(),
        ],
        env: Vec::new(),
        ok_codes: vec![0],
        outputs: Vec::new(),
    }
}

fn ndpi_reader(file: &Path) -> Tool {
    Tool {
        tool: "ndpiReader".into(),
        shown: "ndpiReader -i FILE -q".into(),
        program: "ndpiReader".into(),
        args: vec!["-i".into(), file.display().to_string(), "-q".into()],
        env: Vec::new(),
        ok_codes: vec![0],
        outputs: Vec::new(),
    }
}

/// tshark dissecting every packet and printing a few fields, with the embedded GeoIP databases
/// (they are MaxMind DB files) configured so `ip.geoip.*` is looked up per packet.
fn tshark(file: &Path, geoip: &Path, dir: &Path) -> Result<Tool, String> {
    let config = dir.join("tshark-config");
    let wireshark = config.join("wireshark");
    std::fs::create_dir_all(&wireshark).map_err(|e| format!("{}: {e}", wireshark.display()))?;
    let geoip = geoip
        .canonicalize()
        .map_err(|e| format!("{}: {e}", geoip.display()))?;
    std::fs::write(
        wireshark.join("maxmind_db_paths"),
        format!("\"{}\"\n", geoip.display()),
    )
    .map_err(|e| format!("{}: {e}", wireshark.display()))?;
    let fields = [
        "frame.number",
        "frame.time_epoch",
        "ip.src",
        "ip.dst",
        "udp.dstport",
        "tcp.dstport",
        "_ws.col.Protocol",
        "ip.geoip.dst_country_iso",
        "ip.geoip.dst_asnum",
    ];
    let mut args = vec![
        "-r".to_string(),
        file.display().to_string(),
        "-n".into(),
        "-T".into(),
        "fields".into(),
    ];
    for field in fields {
        args.push("-e".into());
        args.push(field.into());
    }
    Ok(Tool {
        tool: "tshark".into(),
        shown: format!("tshark -r FILE -n -T fields -e {}", fields.join(" -e ")),
        program: "tshark".into(),
        args,
        env: vec![("XDG_CONFIG_HOME".into(), config.display().to_string())],
        ok_codes: vec![0],
        outputs: Vec::new(),
    })
}

fn installed(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Puts the file in the page cache the way a first read from disk does, so the timed runs find
/// it there, and every tool finds it alike: written back, dropped from the cache, then read
/// once in 1 MiB reads.
///
/// Dropping it first matters because the kernel's cost of reading cached pages depends on the
/// pages' history. Readahead fills the cache with large folios (ext4 on Linux 6.16 and later),
/// and copying a file out of them costs far less than out of the 4 KiB pages that a file read
/// back after other files pushed it out of a fragmented memory can end up in. On this harness's
/// machine the same 1 GB file took callaudit 0.61 s in 4 KiB pages and 0.44 s after this, and
/// tcpdump 0.57 and 0.44 s (docs/performance.md).
fn warm(path: &Path) -> Result<(), String> {
    use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};
    use std::io::Read;
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut file = std::fs::File::open(path).map_err(|e| fail(&e))?;
    // Dirty pages are not dropped: a file just made is written back first.
    file.sync_all().map_err(|e| fail(&e))?;
    posix_fadvise(&file, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED).map_err(|e| fail(&e))?;
    let mut buffer = vec![0u8; 1 << 20];
    while file.read(&mut buffer).map_err(|e| fail(&e))? > 0 {}
    Ok(())
}

/// The table of runs; with a `reference`, the last column says how callaudit compares.
fn print_rows(rows: &[Measured], reference: Option<&Measured>) {
    println!(
        "{:<22} {:>9} {:>10} {:>12} {:>8} {:>9} {:>10}",
        "tool", "median s", "packets", "packets/s", "MB/s", "peak MB", "callaudit"
    );
    for row in rows {
        let relative = match reference {
            Some(ours) if ours.tool != row.tool && ours.rate() >= row.rate() => {
                format!("{:.1}x", ours.rate() / row.rate())
            }
            Some(ours) if ours.tool != row.tool => {
                format!("{:.0}%", 100.0 * ours.rate() / row.rate())
            }
            _ => "-".to_string(),
        };
        print_row(row, &relative);
    }
    for row in rows {
        let runs: Vec<String> = row.wall_s.iter().map(|s| format!("{s:.3}")).collect();
        println!("  {}: {} (runs: {})", row.tool, row.shown, runs.join(" "));
    }
}

fn print_row(row: &Measured, relative: &str) {
    println!(
        "{:<22} {:>9.3} {:>10} {:>12} {:>8.0} {:>9.1} {:>10}",
        row.tool,
        row.median_s(),
        thousands(row.packets),
        thousands(row.rate() as u64),
        row.mb_rate(),
        row.peak_mb(),
        relative
    );
}

fn size_name(size: u64) -> String {
    if size >= 1000 * MB && size.is_multiple_of(1000 * MB) {
        format!("{}G", size / (1000 * MB))
    } else if size >= MB && size.is_multiple_of(MB) {
        format!("{}M", size / MB)
    } else {
        size.to_string()
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_disks_count() {
        assert_eq!(size("100M").unwrap(), 100_000_000);
        assert_eq!(size("1G").unwrap(), 1_000_000_000);
        assert_eq!(size("1.5G").unwrap(), 1_500_000_000);
        assert_eq!(size("4096").unwrap(), 4096);
        assert!(size("lots").is_err());
        assert_eq!(size_name(10_000 * MB), "10G");
        assert_eq!(size_name(64 * MB), "64M");
        assert_eq!(thousands(2_470_123), "2,470,123");
    }
}
