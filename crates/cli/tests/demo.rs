//! `switchboard demo --exit` as a person runs it: the built binary connects the seven
//! platforms, has one post per connection published by the server's own dispatcher, and exits
//! 0 only when the sandbox saw each published exactly once. The outcome table it prints lists
//! every platform as published, with a link, and the analytics sync then reads every target.

use std::collections::BTreeMap;
use std::process::Command;

use switchboard_core::catalog::BUILTIN_IDS;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// The rows of the outcome table (`PLATFORM OUTCOME LINK`): (platform, outcome, link).
fn outcome_rows(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .skip_while(|l| !(l.starts_with("PLATFORM") && l.contains("OUTCOME")))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split_whitespace();
            let mut next = || cols.next().unwrap_or_default().to_string();
            (next(), next(), next())
        })
        .collect()
}

#[test]
fn the_demo_publishes_to_all_seven_platforms_exactly_once() {
    let out = Command::new(BIN)
        .args(["demo", "--exit"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("running switchboard demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );

    let rows = outcome_rows(&stdout);
    let mut by_platform = BTreeMap::<&str, Vec<&(String, String, String)>>::new();
    for r in &rows {
        by_platform.entry(r.0.as_str()).or_default().push(r);
    }
    for platform in BUILTIN_IDS {
        let mine = by_platform.get(platform).cloned().unwrap_or_default();
        assert!(!mine.is_empty(), "no row for {platform}:\n{stdout}");
        for (_, outcome, link) in mine {
            assert_eq!(outcome, "published", "{platform}:\n{stdout}");
            assert!(
                link.starts_with("https://"),
                "{platform} link {link:?}:\n{stdout}"
            );
        }
    }
    assert_eq!(
        by_platform.len(),
        BUILTIN_IDS.len(),
        "only the seven platforms are listed:\n{stdout}"
    );
    assert!(
        stdout.contains("Published exactly once at the sandbox: all 7 platforms."),
        "{stdout}"
    );
    // Then the analytics sync reads the metrics of every published target.
    let sync = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("job ") && l.contains("targets read"))
        .unwrap_or_else(|| panic!("no sync job line:\n{stdout}"));
    let published = rows.len();
    assert!(
        sync.contains(&format!(
            ": succeeded ({published} of {published} targets read)"
        )),
        "{sync}"
    );
}
