//! Two hosts on one PostgreSQL study: the server and two worker processes on host A (this
//! network namespace), two worker processes on host B (a network namespace of its own, with
//! its own hostname, reaching A over a veth pair). Needs root (`ip netns`); where namespaces
//! cannot be made it runs the same study over loopback and says so on stderr
//! (`NASCENT_TWO_HOSTS=loopback` forces that variant).

use nascent_core::TrialState;
use nascent_core::storage::Storage;
use nascent_store::pg_server::PgServer;
use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_nascent-study-worker");

/// A network namespace joined to this one by a veth pair: this side `a_ip`, inside `b_ip`.
struct Netns {
    name: String,
    veth: String,
    a_ip: String,
    b_ip: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    fn make() -> Result<Netns, String> {
        let pid = std::process::id();
        let subnet = 16 + pid % 200;
        let ns = Netns {
            name: format!("nascent_b_{pid}"),
            veth: format!("nsc{}a", pid % 100_000),
            a_ip: format!("10.213.{subnet}.1"),
            b_ip: format!("10.213.{subnet}.2"),
        };
        let peer = format!("nsc{}b", pid % 100_000);
        ip(&["netns", "add", &ns.name])?;
        // From here on, Drop cleans up what was made.
        ip(&[
            "link", "add", &ns.veth, "type", "veth", "peer", "name", &peer,
        ])?;
        ip(&["link", "set", &peer, "netns", &ns.name])?;
        ip(&["addr", "add", &format!("{}/24", ns.a_ip), "dev", &ns.veth])?;
        ip(&["link", "set", &ns.veth, "up"])?;
        let inside = |args: &[&str]| {
            let mut a = vec!["netns", "exec", &ns.name, "ip"];
            a.extend_from_slice(args);
            ip(&a)
        };
        inside(&["addr", "add", &format!("{}/24", ns.b_ip), "dev", &peer])?;
        inside(&["link", "set", &peer, "up"])?;
        inside(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.veth]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

#[test]
fn workers_on_two_hosts_share_one_postgres_study() {
    let netns = if std::env::var("NASCENT_TWO_HOSTS").is_ok_and(|v| v == "loopback") {
        eprintln!("two hosts: NASCENT_TWO_HOSTS=loopback: running over loopback");
        None
    } else {
        match Netns::make() {
            Ok(ns) => {
                eprintln!(
                    "two hosts: network namespaces: host A {} (this one), host B {} ({})",
                    ns.a_ip, ns.b_ip, ns.name
                );
                Some(ns)
            }
            Err(e) => {
                eprintln!(
                    "two hosts: cannot make network namespaces ({e}); running over loopback \
                     (run as root for the namespace variant)"
                );
                None
            }
        }
    };
    if !PgServer::installed_for_test("workers_on_two_hosts_share_one_postgres_study") {
        return;
    }
    let (listen, host) = match &netns {
        Some(ns) => (format!("127.0.0.1,{}", ns.a_ip), ns.a_ip.clone()),
        None => ("127.0.0.1".to_string(), "127.0.0.1".to_string()),
    };
    let server = PgServer::start_on(&listen).expect("start PostgreSQL");
    let local = server.new_database().unwrap();
    let db = local.rsplit('/').next().unwrap().to_string();
    let url = server.url_at(&host, &db);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("evaluations.log");
    let args = |c: &mut Command| {
        c.args(["--storage", &url, "--study", "s", "--log"])
            .arg(&log)
            .args([
                "--trials",
                "80",
                "--epochs",
                "3",
                "--epoch-ms",
                "20",
                "--seed",
                "4",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    };
    let mut children = Vec::new();
    for _ in 0..2 {
        let mut c = Command::new(BIN);
        args(&mut c);
        children.push(c.spawn().unwrap());
    }
    for _ in 0..2 {
        let mut c = match &netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &ns.name, "unshare", "--uts", "sh", "-c"])
                    .arg("hostname nascent-host-b && exec \"$0\" \"$@\"")
                    .arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        args(&mut c);
        children.push(c.spawn().unwrap());
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let s = nascent_store::open(&local).unwrap();
    let st = s.study("s").unwrap();
    let trials = s.trials(st.id, 0).unwrap();
    assert_eq!(trials.len(), 80);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    let archs: HashSet<&str> = trials.iter().map(|t| t.arch.as_str()).collect();
    assert_eq!(archs.len(), 80);
    let text = std::fs::read_to_string(&log).unwrap();
    let mut per_arch: HashMap<&str, usize> = HashMap::new();
    for line in text.lines() {
        *per_arch.entry(line.split_once(' ').unwrap().1).or_default() += 1;
    }
    assert_eq!(text.lines().count(), 80, "a trial ran twice");
    assert!(per_arch.values().all(|&c| c == 1));
    let hosts: HashSet<&str> = trials
        .iter()
        .filter_map(|t| t.worker.as_deref()?.split(':').next())
        .collect();
    let pids: HashSet<&str> = trials
        .iter()
        .filter_map(|t| t.worker.as_deref()?.split(':').nth(1))
        .collect();
    assert!(pids.len() >= 3, "the processes shared the work: {pids:?}");
    if netns.is_some() {
        assert!(
            hosts.contains("nascent-host-b"),
            "host B ran no trial: {hosts:?}"
        );
        assert_eq!(hosts.len(), 2, "{hosts:?}");
        let b = trials
            .iter()
            .filter(|t| t.worker.as_deref().unwrap().starts_with("nascent-host-b:"))
            .count();
        eprintln!("two hosts: host B ran {b} of 80 trials, host A {}", 80 - b);
    }
}
