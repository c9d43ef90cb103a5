//! The bad-input corpus: target files, policies, feature files and command lines a user gets
//! wrong. Each must end in exit 2 with a message naming the cause and what to do, with no panic
//! text, and leave no report behind (each fails before a browser starts, so the corpus is fast).
//! Target and policy cases run through both `check` and `run`: `check` must catch what `run`
//! would fail on.

use crate::support::cpu;
use std::path::Path;
use std::process::Command;

/// One bad input.
struct Case {
    name: &'static str,
    /// Files written into the case's folder first.
    files: Vec<(&'static str, String)>,
    /// Arguments; `{d}` is the case's folder.
    args: Vec<String>,
    /// Every one must appear in stderr (the cause, and the way out).
    expect: Vec<&'static str>,
    /// A `PATH` for the harness instead of the test's own (to hide an installed program).
    path: Option<&'static str>,
}

const TARGET_OK: &str = "name: corp\ncrm: https://crm.contoso.test/org/\nmode: ifd\nusers:\n  alice: {password_env: CORPUS_PASSWORD}\n";
const POLICY_OK: &str = "name: mine\nrules:\n  sign-out.replay-refused:\n    expect: refused\n    requirements: [WSTG-SESS-06]\n";
const FEATURE_OK: &str = "Feature: x\n  Scenario: y\n    Given a\n";

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

/// A target file case, as `check` and as `run`.
fn target(name: &'static str, text: &str, expect: Vec<&'static str>) -> Vec<Case> {
    vec![
        Case {
            name,
            files: vec![("t.yaml", text.to_string())],
            args: args("check --offline --target {d}/t.yaml"),
            expect: expect.clone(),
            path: None,
        },
        Case {
            name,
            files: vec![("t.yaml", text.to_string())],
            args: args("run --target {d}/t.yaml --json {d}/r.json --junit {d}/r.xml"),
            expect,
            path: None,
        },
    ]
}

/// A policy case, as `check` and as `run`.
fn policy(name: &'static str, text: &str, expect: Vec<&'static str>) -> Vec<Case> {
    vec![
        Case {
            name,
            files: vec![("p.yaml", text.to_string())],
            args: args("check --offline --policy {d}/p.yaml"),
            expect: expect.clone(),
            path: None,
        },
        Case {
            name,
            files: vec![("p.yaml", text.to_string())],
            args: args("run --policy {d}/p.yaml --json {d}/r.json --junit {d}/r.xml"),
            expect,
            path: None,
        },
    ]
}

/// A feature file case (only `run` reads features).
fn feature(name: &'static str, text: &str, expect: Vec<&'static str>) -> Case {
    Case {
        name,
        files: vec![("f.feature", text.to_string())],
        args: args("run --json {d}/r.json --junit {d}/r.xml {d}/f.feature"),
        expect,
        path: None,
    }
}

/// A command line case.
fn command(name: &'static str, line: &str, expect: Vec<&'static str>) -> Case {
    Case {
        name,
        files: vec![
            ("t.yaml", TARGET_OK.to_string()),
            ("p.yaml", POLICY_OK.to_string()),
            ("f.feature", FEATURE_OK.to_string()),
        ],
        args: args(line),
        expect,
        path: None,
    }
}

fn with_user(user: &str) -> String {
    format!("name: corp\ncrm: https://crm.contoso.test/org/\nmode: ifd\nusers:\n{user}")
}

fn with_rule(rule: &str) -> String {
    format!("name: mine\nrules:\n  sign-out.replay-refused:\n{rule}")
}

fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    // Target files.
    for c in [
        target("target: empty file", "\n", vec!["t.yaml", "empty"]),
        target("target: missing file", "", vec![]),
        target(
            "target: YAML syntax",
            "name: corp\ncrm: [https://x\n",
            vec!["t.yaml:2", "crm", "expected a string"],
        ),
        target(
            "target: other_relying_party without a URL",
            &format!(
                "{TARGET_OK}other_relying_party: {{url: portal.contoso.com, signed_in: '#u'}}\n"
            ),
            vec![
                "t.yaml:6",
                "other_relying_party: its `url`",
                "https://portal.contoso.com/",
            ],
        ),
        target(
            "target: saved with a byte order mark and a bad key",
            &format!("\u{feff}{TARGET_OK}colour: red\n"),
            vec!["t.yaml:6", "colour"],
        ),
        target(
            "target: resolve to the unspecified address",
            &format!("{TARGET_OK}resolve:\n  crm.contoso.test: 0.0.0.0\n"),
            vec!["t.yaml:7", "0.0.0.0", "no address a server answers at"],
        ),
        target(
            "target: resolve to a multicast address",
            &format!("{TARGET_OK}resolve:\n  crm.contoso.test: 224.0.0.1\n"),
            vec!["224.0.0.1", "multicast"],
        ),
        target(
            "target: resolve naming one host twice in two cases",
            &format!(
                "{TARGET_OK}resolve:\n  crm.contoso.test: 10.0.0.5\n  CRM.contoso.test: 10.0.0.6\n"
            ),
            vec!["CRM.contoso.test", "twice", "case-insensitive"],
        ),
        target(
            "target: admin action with a misspelt key",
            &format!(
                "{TARGET_OK}admin:\n  end_sessions: {{urll: 'https://crm.contoso.test/end'}}\n"
            ),
            vec!["end_sessions", "neither `url` nor `command`", "urll"],
        ),
        target(
            "target: password_env holding an assignment",
            &with_user("  alice: {password_env: 'CRM_PW=hunter2'}\n"),
            vec!["password_env", "must name an environment variable"],
        ),
        target(
            "target: flow collections nested 200,000 deep",
            &format!("{TARGET_OK}x: {}\n", "[".repeat(200_000)),
            vec!["t.yaml:6", "nested more than 64 deep"],
        ),
        target(
            "target: a name with a terminal escape",
            "name: \"corp\\e[2J\"\ncrm: https://crm.contoso.test/org/\nmode: ifd\nusers:\n  alice: {password_env: CORPUS_PASSWORD}\n",
            vec!["name", "control characters"],
        ),
        target(
            "target: a user named like the person without a ticket",
            &with_user(
                "  alice: {password_env: CORPUS_PASSWORD}\n  visitor: {password_env: CORPUS_PASSWORD}\n",
            ),
            vec!["visitor", "without a Kerberos ticket"],
        ),
        target(
            "target: one user keyed as a number and as text",
            &with_user(
                "  1: {password_env: CORPUS_PASSWORD}\n  '1': {password_env: CORPUS_PASSWORD}\n  alice: {password_env: CORPUS_PASSWORD}\n",
            ),
            vec!["user `1`", "twice"],
        ),
        target(
            "target: whoami with credentials",
            &format!(
                "{TARGET_OK}whoami: 'https://probe:S3cret-in-whoami@crm.contoso.test/api/me'\n"
            ),
            vec!["whoami", "carries credentials", "***@crm.contoso.test"],
        ),
        target(
            "target: port 0",
            "name: corp\ncrm: https://crm.contoso.test:0/org/\nmode: ifd\nusers:\n  alice: {password_env: CORPUS_PASSWORD}\n",
            vec!["crm", "port 0"],
        ),
        target(
            "target: an empty selector",
            &format!("{TARGET_OK}pages:\n  sign_out: ''\n"),
            vec!["sign_out", "is empty"],
        ),
        target(
            "target: auth_cookies naming none",
            &format!("{TARGET_OK}pages:\n  auth_cookies: []\n"),
            vec!["auth_cookies", "names no cookie", "mode iwa"],
        ),
        target(
            "target: idle timeout of 0s",
            &format!("{TARGET_OK}timeouts:\n  idle: 0s\n"),
            vec!["idle", "0s", "no timeout"],
        ),
        target(
            "target: identity_provider not a URL",
            &format!("{TARGET_OK}identity_provider: sts.contoso.test\n"),
            vec![
                "identity_provider",
                "sts.contoso.test",
                "protocols: ws-federation",
            ],
        ),
        target(
            "target: identity_provider with an unknown protocol",
            &format!(
                "{TARGET_OK}identity_provider: {{url: 'https://sts.contoso.test/', protocol: kerberos}}\n"
            ),
            vec!["identity_provider.protocol", "kerberos", "openid-connect"],
        ),
        target(
            "target: identity_provider for the emulator",
            "name: e\ncrm: embedded\nmode: fba\nusers:\n  alice: {}\nidentity_provider: https://sts.contoso.test/\n",
            vec!["identity_provider", "real target"],
        ),
        target(
            "target: other_relying_party without its marker",
            &format!("{TARGET_OK}other_relying_party: {{url: 'https://portal.contoso.com/'}}\n"),
            vec!["t.yaml:6", "signed_in"],
        ),
        target(
            "target: a scalar",
            "just words\n",
            vec!["t.yaml", "invalid type"],
        ),
        target(
            "target: unknown top key",
            &format!("{TARGET_OK}colour: red\n"),
            vec!["t.yaml:6", "colour", "expected one of"],
        ),
        target(
            "target: missing crm",
            "name: corp\nmode: ifd\nusers:\n  alice: {password_env: CORPUS_PASSWORD}\n",
            vec!["t.yaml", "crm"],
        ),
        target(
            "target: missing users",
            "name: corp\ncrm: https://crm.contoso.test/org/\nmode: ifd\n",
            vec!["t.yaml", "users"],
        ),
        target(
            "target: no users",
            "name: corp\ncrm: https://crm.contoso.test/org/\nmode: ifd\nusers: {}\n",
            vec!["t.yaml", "users", "at least one user"],
        ),
        target(
            "target: users as a list",
            "name: corp\ncrm: https://crm.contoso.test/org/\nmode: ifd\nusers: [alice]\n",
            vec!["t.yaml:4", "users"],
        ),
        target(
            "target: unknown mode",
            "name: corp\ncrm: https://crm.contoso.test/org/\nmode: saml\nusers:\n  alice: {password_env: CORPUS_PASSWORD}\n",
            vec!["t.yaml:3", "saml", "ifd"],
        ),
        target(
            "target: crm not a URL",
            "name: corp\ncrm: crm.contoso.test\nmode: ifd\nusers:\n  alice: {password_env: CORPUS_PASSWORD}\n",
            vec!["t.yaml:2", "crm"],
        ),
        target(
            "target: crm ftp",
            "name: corp\ncrm: ftp://crm.contoso.test/org/\nmode: ifd\nusers:\n  alice: {password_env: CORPUS_PASSWORD}\n",
            vec!["t.yaml:2", "crm", "http(s) organization URL"],
        ),
        target(
            "target: password in YAML",
            &with_user("  alice:\n    password: hunter2\n"),
            vec!["t.yaml:6", "password", "expected one of"],
        ),
        target(
            "target: user without a password source",
            &with_user("  alice: {}\n"),
            vec!["t.yaml:5", "alice", "password_env"],
        ),
        target(
            "target: user with two password sources",
            &with_user("  alice: {password_env: CORPUS_PASSWORD, password_file: /etc/hostname}\n"),
            vec!["t.yaml:5", "alice", "exactly one of"],
        ),
        target(
            "target: password_env not set",
            &with_user("  alice: {password_env: CORPUS_SURELY_UNSET}\n"),
            vec!["t.yaml:5", "CORPUS_SURELY_UNSET", "is not set", "export"],
        ),
        target(
            "target: password_file missing",
            &with_user("  alice: {password_file: /nonexistent/corpus/pw}\n"),
            vec!["t.yaml:5", "/nonexistent/corpus/pw", "cannot read"],
        ),
        target(
            "target: password_file a directory",
            &with_user("  alice: {password_file: /}\n"),
            vec![
                "t.yaml:5",
                "password_file",
                "is a directory",
                "regular file",
            ],
        ),
        target(
            "target: password_file a device that never ends",
            &with_user("  alice: {password_file: /dev/zero}\n"),
            vec!["t.yaml:5", "/dev/zero", "is a device"],
        ),
        target(
            "target: admin.end_sessions with an empty command",
            &format!("{TARGET_OK}admin:\n  end_sessions: {{command: []}}\n"),
            vec!["end_sessions", "`command` is empty"],
        ),
        target(
            "target: admin.end_sessions with a missing program",
            &format!(
                "{TARGET_OK}admin:\n  end_sessions: {{command: [/nonexistent/end-sessions, '{{username}}']}}\n"
            ),
            vec![
                "end_sessions",
                "/nonexistent/end-sessions",
                "does not exist",
            ],
        ),
        target(
            "target: admin.end_sessions with a bad URL",
            &format!("{TARGET_OK}admin:\n  end_sessions: {{url: 'crm/admin/end'}}\n"),
            vec!["end_sessions", "crm/admin/end", "http(s) URL"],
        ),
        target(
            "target: admin.end_sessions with a method holding a line break",
            &format!(
                "{TARGET_OK}admin:\n  end_sessions: {{url: 'https://crm.contoso.test/end', method: \"POST\\r\\nX: y\"}}\n"
            ),
            vec!["end_sessions", "not an HTTP method"],
        ),
        target(
            "target: second user password_env not set",
            &with_user(
                "  alice: {password_env: CORPUS_PASSWORD}\n  bob: {password_env: CORPUS_BOB_UNSET}\n",
            ),
            vec!["t.yaml:6", "bob", "CORPUS_BOB_UNSET"],
        ),
        target(
            "target: tls.ca_file missing",
            &format!("{TARGET_OK}tls:\n  ca_file: /nonexistent/corpus/ca.pem\n"),
            vec!["t.yaml:7", "ca_file", "/nonexistent/corpus/ca.pem", "PEM"],
        ),
        target(
            "target: unknown tls key",
            &format!("{TARGET_OK}tls:\n  ca: /x.pem\n"),
            vec!["t.yaml:7", "ca", "ca_file"],
        ),
        target(
            "target: duplicate user",
            &with_user(
                "  alice: {password_env: CORPUS_PASSWORD}\n  bob: {no_password: true}\n  alice: {password_env: OTHER}\n",
            ),
            vec!["t.yaml:7", "alice", "written twice", "lines 5, 7"],
        ),
        target(
            "target: duplicate top key",
            &format!("{TARGET_OK}name: again\n"),
            vec!["t.yaml:6", "name", "written twice"],
        ),
        target(
            "target: duplicate pages key",
            &format!("{TARGET_OK}pages:\n  submit: '#a'\n  submit: '#b'\n"),
            vec!["t.yaml:8", "submit", "written twice"],
        ),
        target(
            "target: unknown pages key",
            &format!("{TARGET_OK}pages:\n  submit_button: '#a'\n"),
            vec!["t.yaml:7", "submit_button", "expected one of"],
        ),
        target(
            "target: signed_out_text not a regex",
            &format!("{TARGET_OK}pages:\n  signed_out_text: '(unclosed'\n"),
            vec!["t.yaml", "signed_out_text", "regular expression"],
        ),
        target(
            "target: bad timeout",
            &format!("{TARGET_OK}timeouts:\n  idle: five minutes\n"),
            vec!["t.yaml:7", "timeouts", "five minutes", "write e.g. 30s"],
        ),
        target(
            "target: unknown user key",
            &with_user("  alice: {password_env: CORPUS_PASSWORD, pasword_file: x}\n"),
            vec!["t.yaml:5", "pasword_file", "expected one of"],
        ),
        target(
            "target: tab indentation",
            "name: corp\ncrm: https://crm.contoso.test/org/\nmode: ifd\nusers:\n\talice: {password_env: CORPUS_PASSWORD}\n",
            vec!["t.yaml:5"],
        ),
    ] {
        all.extend(c);
    }
    // "target: missing file" has no file: point at one that is not there.
    for c in all.iter_mut().filter(|c| c.name == "target: missing file") {
        c.files.clear();
        c.args = c
            .args
            .iter()
            .map(|a| a.replace("t.yaml", "absent.yaml"))
            .collect();
        c.expect = vec!["absent.yaml", "cannot read"];
    }
    // Policies.
    for c in [
        policy("policy: empty file", "", vec!["p.yaml", "empty"]),
        policy(
            "policy: empty rules",
            "name: mine\nrules: {}\n",
            vec!["p.yaml:2", "rules", "no rules", "sign-out.replay-refused"],
        ),
        policy(
            "policy: rules with nothing under",
            "name: mine\nrules:\n",
            vec!["p.yaml:2", "rules", "no rules"],
        ),
        policy(
            "policy: missing rules",
            "name: mine\n",
            vec!["p.yaml", "rules"],
        ),
        policy(
            "policy: missing name",
            "rules:\n  sign-out.replay-refused:\n    expect: refused\n    requirements: [WSTG-SESS-06]\n",
            vec!["p.yaml", "name"],
        ),
        policy(
            "policy: unknown top key",
            &format!("{POLICY_OK}owner: me\n"),
            vec!["p.yaml:6", "owner", "expected one of"],
        ),
        policy(
            "policy: unknown rule",
            "name: mine\nrules:\n  sign-out.everything:\n    expect: refused\n    requirements: [WSTG-SESS-06]\n",
            vec![
                "p.yaml:3",
                "sign-out.everything",
                "expected one of",
                "sign-out.replay-refused",
            ],
        ),
        policy(
            "policy: expect a number",
            &with_rule("    expect: 7\n    requirements: [WSTG-SESS-06]\n"),
            vec!["p.yaml:3", "expect `7` is not an outcome", "valid: "],
        ),
        policy(
            "policy: expect a mapping",
            &with_rule("    expect: {a: 1}\n    requirements: [WSTG-SESS-06]\n"),
            vec!["p.yaml", "expect: refused"],
        ),
        policy(
            "policy: expect not an outcome",
            &with_rule("    expect: maybe\n    requirements: [WSTG-SESS-06]\n"),
            vec!["p.yaml:3", "maybe", "valid: "],
        ),
        policy(
            "policy: expect empty list",
            &with_rule("    expect: []\n    requirements: [WSTG-SESS-06]\n"),
            vec!["p.yaml:3", "at least one outcome", "valid: "],
        ),
        policy(
            "policy: missing expect",
            &with_rule("    requirements: [WSTG-SESS-06]\n"),
            vec!["p.yaml", "expect"],
        ),
        policy(
            "policy: missing requirements",
            &with_rule("    expect: refused\n"),
            vec!["p.yaml", "requirements"],
        ),
        policy(
            "policy: empty requirements",
            &with_rule("    expect: refused\n    requirements: []\n"),
            vec!["p.yaml:3", "requirement ids", "WSTG-SESS-06"],
        ),
        policy(
            "policy: bad requirement id",
            &with_rule("    expect: refused\n    requirements: [OWASP-1]\n"),
            vec!["p.yaml:3", "OWASP-1", "ASVS-v"],
        ),
        policy(
            "policy: duplicate rule",
            &format!(
                "{POLICY_OK}  sign-out.replay-refused:\n    expect: accepted\n    requirements: [WSTG-SESS-06]\n"
            ),
            vec!["p.yaml:6", "sign-out.replay-refused", "written twice"],
        ),
        policy(
            "policy: rule key typo",
            &with_rule("    expect: refused\n    requirements: [WSTG-SESS-06]\n    reason: x\n"),
            vec!["p.yaml", "reason", "expected one of"],
        ),
        policy(
            "policy: rules as a list",
            "name: mine\nrules:\n  - sign-out.replay-refused\n",
            vec!["p.yaml", "rules", "mapping"],
        ),
        policy(
            "policy: YAML syntax",
            "name: mine\nrules: {sign-out.replay-refused: [\n",
            vec!["p.yaml:"],
        ),
    ] {
        all.extend(c);
    }
    for c in all.iter_mut().filter(|c| c.name == "policy: empty file") {
        c.files = vec![("p.yaml", "   \n".into())];
    }
    // Feature files.
    all.extend([
        feature("feature: empty", "", vec!["f.feature", "empty", "Feature:"]),
        feature(
            "feature: text before Feature",
            "Hello\nFeature: x\n",
            vec!["f.feature:1", "Hello", "Feature:"],
        ),
        feature(
            "feature: free text among steps",
            "Feature: x\n  Scenario: y\n    Given a\n    Whenever b\n",
            vec!["f.feature:4", "Whenever b", "Given, When, Then"],
        ),
        feature(
            "feature: table row too short",
            "Feature: x\n  Scenario Outline: y\n    Given <a>\n    Examples:\n      | a | b |\n      | 1 |\n",
            vec!["f.feature:6", "1 cell(s)", "first row has 2"],
        ),
        feature(
            "feature: doc string never closed",
            "Feature: x\n  Scenario: y\n    Given a\n      \"\"\"\n      text\n",
            vec!["f.feature:4", "never closed"],
        ),
        feature(
            "feature: scenario before Feature",
            "Scenario: y\n  Given a\n",
            vec!["f.feature:1", "Feature:"],
        ),
        feature(
            "feature: unknown language",
            "# language: xx-nowhere\nFeature: x\n  Scenario: y\n    Given a\n",
            vec!["f.feature", "xx-nowhere"],
        ),
        feature(
            "feature: step without scenario text",
            "Feature: x\n  Scenario: y\n    Given a\n  Then b\n  And c\n  Oops\n",
            vec!["f.feature:6", "Oops"],
        ),
    ]);
    // Command lines.
    all.extend([
        command(
            "cli: missing feature path",
            "run --json {d}/r.json {d}/nothing.feature",
            vec!["no feature file or directory", "nothing.feature"],
        ),
        command(
            "cli: concurrency 0",
            "run --concurrency 0 --json {d}/r.json",
            vec!["--concurrency", "at least 1"],
        ),
        command(
            "cli: page timeout 0",
            "run --page-timeout 0s --json {d}/r.json",
            vec!["--page-timeout", "at least 1s"],
        ),
        command(
            "cli: page timeout without a unit it knows",
            "check --connect --page-timeout 5y",
            vec!["--page-timeout", "unit `y`"],
        ),
        command(
            "cli: check page timeout 0",
            "check --offline --page-timeout 0s",
            vec!["--page-timeout", "at least 1s"],
        ),
        command(
            "cli: concurrency not a number",
            "run --concurrency many",
            vec!["--concurrency", "many"],
        ),
        command(
            "cli: bad tag expression",
            "run --tags ( --json {d}/r.json",
            vec!["--tags", "not a tag expression"],
        ),
        command(
            "cli: tag expression nested past the parser's stack",
            &format!(
                "run --tags {}@a{} --json {{d}}/r.json",
                "(".repeat(30_000),
                ")".repeat(30_000)
            ),
            vec!["--tags", "nested 30000 deep", "at most"],
        ),
        command(
            "cli: headed without a display",
            "run --headed --json {d}/r.json",
            vec!["--headed", "no display", "xvfb-run"],
        ),
        command(
            "cli: page timeout past any page",
            "run --page-timeout 18446744073709551615s --json {d}/r.json",
            vec!["--page-timeout", "at most 1h"],
        ),
        command(
            "cli: policy a device that never ends",
            "run --policy /dev/zero --json {d}/r.json",
            vec!["/dev/zero", "is a device", "regular file"],
        ),
        command(
            "cli: feature file a device",
            "run /dev/zero --json {d}/r.json",
            vec!["/dev/zero", "is a device"],
        ),
        command(
            "cli: bad name regex",
            "run --name ( --json {d}/r.json",
            vec!["--name", "("],
        ),
        command(
            "cli: unknown fault",
            "run --fault no-such-fault --json {d}/r.json",
            vec!["no-such-fault", "valid names", "keep-server-session"],
        ),
        command(
            "cli: fault with a target file",
            "run --target {d}/t.yaml --fault keep-server-session --json {d}/r.json",
            vec!["--fault", "embedded emulator"],
        ),
        command(
            "cli: trace-knobs with a target file",
            "run --target {d}/t.yaml --trace-knobs --json {d}/r.json",
            vec!["--trace-knobs", "embedded emulator"],
        ),
        command(
            "cli: mode with a target file",
            "run --target {d}/t.yaml --mode ifd --json {d}/r.json",
            vec!["--mode", "states its own"],
        ),
        command(
            "cli: sim-access-token-management with a target file",
            "run --target {d}/t.yaml --sim-access-token-management on --json {d}/r.json",
            vec![
                "--sim-access-token-management",
                "embedded emulator",
                "access_token_management: true|false",
            ],
        ),
        command(
            "cli: sim-access-token-management neither on nor off",
            "run --sim-access-token-management maybe --json {d}/r.json",
            vec!["maybe", "on", "off"],
        ),
        command(
            "cli: sim access-token-management in mode fba",
            "sim --mode fba --access-token-management on",
            vec!["--access-token-management on", "mode ifd"],
        ),
        command(
            "cli: unknown mode",
            "run --mode saml",
            vec!["saml", "possible values"],
        ),
        command(
            "cli: unknown browser",
            "run --browser netscape",
            vec!["netscape", "possible values"],
        ),
        command(
            "cli: junit folder missing",
            "run --junit {d}/nope/r.xml --json {d}/r.json",
            vec!["--junit", "nope", "does not exist"],
        ),
        command(
            "cli: json folder missing",
            "run --json {d}/nope/r.json --junit {d}/r.xml",
            vec!["--json", "nope", "does not exist"],
        ),
        command(
            "cli: json is a folder",
            "run --json {d} --junit {d}/r.xml",
            vec!["--json", "is a folder"],
        ),
        command(
            "cli: webdriver unreachable",
            "run --webdriver http://127.0.0.1:9 --json {d}/r.json --junit {d}/r.xml",
            vec![
                "--webdriver http://127.0.0.1:9",
                "does not answer",
                "leave out --webdriver",
            ],
        ),
        command(
            "cli: webdriver not a URL",
            "run --webdriver not-a-url --json {d}/r.json --junit {d}/r.xml",
            vec!["--webdriver not-a-url", "does not answer", "fix the URL"],
        ),
        command(
            "cli: json folder is a file",
            "run --json {d}/t.yaml/r.json --junit {d}/r.xml",
            vec!["--json", "t.yaml is a file, not a folder"],
        ),
        command(
            "cli: policy name unknown",
            "run --policy strictest --json {d}/r.json",
            vec!["strictest", "built-in"],
        ),
        command(
            "cli: policy file missing",
            "run --policy {d}/none.yaml --json {d}/r.json",
            vec!["none.yaml", "cannot read"],
        ),
        command(
            "cli: target file missing",
            "run --target {d}/none.yaml --json {d}/r.json",
            vec!["none.yaml", "cannot read"],
        ),
        command(
            "cli: check connect and offline",
            "check --connect --offline",
            vec!["--connect", "--offline"],
        ),
        command(
            "cli: check mode with target",
            "check --target {d}/t.yaml --mode ifd",
            vec!["--mode", "states its own"],
        ),
        command(
            "cli: sim unknown fault",
            "sim --fault no-such-fault",
            vec!["no-such-fault", "valid names", "keep-server-session"],
        ),
        command(
            "cli: sim bad listen",
            "sim --listen nowhere",
            vec!["--listen", "nowhere"],
        ),
        command(
            "cli: sim bad duration",
            "sim --idle-timeout 5parsecs",
            vec!["5parsecs", "not one of s, m, h, d"],
        ),
        command("cli: unknown subcommand", "judge", vec!["judge", "Usage"]),
        command(
            "cli: unknown flag",
            "run --colour",
            vec!["--colour", "Usage"],
        ),
        command(
            "cli: update snapshots outside a checkout",
            "run --update-snapshots --json {d}/r.json",
            vec!["--update-snapshots", "--snapshots DIR"],
        ),
        command(
            "cli: feature folder with a bad file",
            "run --json {d}/r.json {d}/feats",
            vec!["bad.feature:2", "Feature:"],
        ),
        command(
            "cli: unknown ui",
            "run --ui modern",
            vec!["modern", "possible values", "classic", "uci"],
        ),
        command(
            "cli: ui with a target file",
            "run --target {d}/t.yaml --ui uci --json {d}/r.json",
            vec!["--ui", "states its own `ui`"],
        ),
        command(
            "cli: ui uci with mode fba",
            "run --mode fba --ui uci --json {d}/r.json",
            vec!["--ui uci", "no Unified Interface", "--mode ifd or iwa"],
        ),
        command(
            "cli: sim ui uci with mode fba",
            "sim --mode fba --ui uci",
            vec!["--ui uci", "no Unified Interface"],
        ),
    ]);
    all.extend(target(
        "target: unknown ui",
        &format!("{TARGET_OK}ui: modern\n"),
        vec!["t.yaml:6", "ui", "modern", "classic", "uci"],
    ));
    all.extend(target(
        "target: ui uci in mode fba",
        "name: corp\ncrm: https://crm.contoso.test/org/\nmode: fba\nui: uci\nusers:\n  alice: {password_env: CORPUS_PASSWORD}\n",
        vec!["t.yaml:4", "ui", "no Unified Interface", "classic"],
    ));
    all.extend(target(
        "target: access_token_management in mode iwa",
        "name: corp\ncrm: https://crm.contoso.test/org/\nmode: iwa\nusers:\n  alice: {no_password: true}\naccess_token_management: true\n",
        vec!["t.yaml:6", "access_token_management", "mode ifd"],
    ));
    all.extend(target(
        "target: access_token_management not a boolean",
        &format!("{TARGET_OK}access_token_management: sometimes\n"),
        vec!["t.yaml:6", "access_token_management"],
    ));
    all.push(Case {
        path: Some("/nonexistent-bin"),
        ..command(
            "cli: chromedriver not installed",
            "run --mode ifd --json {d}/r.json --junit {d}/r.xml",
            vec![
                "chromedriver is not installed",
                "ci/install-run",
                "chromium-driver",
                "--webdriver",
            ],
        )
    });
    for c in all
        .iter_mut()
        .filter(|c| c.name == "cli: feature folder with a bad file")
    {
        c.files
            .push(("feats/bad.feature", "\nNot gherkin\n".into()));
    }
    all
}

fn listing(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// Runs one case; returns what is wrong with the outcome, if anything.
fn check_case(case: &Case) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &case.files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let before = listing(dir.path());
    let d = dir.path().display().to_string();
    let args: Vec<String> = case.args.iter().map(|a| a.replace("{d}", &d)).collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_logout-harness"));
    if let Some(path) = case.path {
        cmd.env("PATH", path);
    }
    let out = cmd
        .args(&args)
        .current_dir(dir.path())
        .env("CORPUS_PASSWORD", "corpus-password")
        .env_remove("CORPUS_SURELY_UNSET")
        .env_remove("CORPUS_BOB_UNSET")
        .env_remove("RUST_BACKTRACE")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut wrong = Vec::new();
    if out.status.code() != Some(2) {
        wrong.push(format!("exit {:?}, not 2", out.status.code()));
    }
    for e in &case.expect {
        if !stderr.contains(e) {
            wrong.push(format!("stderr lacks {e:?}"));
        }
    }
    for panic in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        if stderr.contains(panic) || stdout.contains(panic) {
            wrong.push(format!("panic text {panic:?}"));
        }
    }
    let after = listing(dir.path());
    if after != before {
        wrong.push(format!("files left behind: {before:?} -> {after:?}"));
    }
    (!wrong.is_empty()).then(|| {
        format!(
            "{} ({}): {}\n  stderr: {}",
            case.name,
            args.join(" ").replace(&d, "{d}"),
            wrong.join("; "),
            stderr.trim().replace('\n', "\n          ")
        )
    })
}

#[test]
fn every_bad_input_is_a_clear_exit_2() {
    let _cpu = cpu::take(2);
    let cases = cases();
    assert!(cases.len() >= 190, "the corpus has {} cases", cases.len());
    // Two at a time: the machine is shared, and each case is a short-lived process.
    let (a, b) = cases.split_at(cases.len() / 2);
    let failures: Vec<String> = std::thread::scope(|s| {
        let h = s.spawn(|| a.iter().filter_map(check_case).collect::<Vec<_>>());
        let mut f: Vec<String> = b.iter().filter_map(check_case).collect();
        f.extend(h.join().unwrap());
        f
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A small deterministic generator (xorshift64*): the same seed gives the same inputs, so a
/// failure names a case that can be run again.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

/// A `run` command line of 1-6 random flags with values valid or not, always with a tag no
/// scenario has, so a line the harness accepts ends at "nothing matches" (exit 2) before a
/// browser starts. `{d}` is the case's folder.
fn random_flags(g: &mut Gen) -> Vec<String> {
    const DURATIONS: &[&str] = &[
        "0s",
        "1s",
        "30s",
        "5m",
        "1h",
        "2d",
        "-1s",
        "1.5s",
        "18446744073709551615s",
        "s",
        "",
        "99999999999h",
        "1s1m",
    ];
    let mut argv = vec!["run".to_string()];
    for _ in 0..1 + g.below(6) {
        let (flag, values): (&str, &[&str]) = match g.below(22) {
            0 => (
                "--target",
                &["embedded", "{d}/t.yaml", "{d}/missing.yaml", "{d}", ""],
            ),
            1 => (
                "--mode",
                &["ifd", "iwa", "fba", "claims", "IFD", "oauth", ""],
            ),
            2 => ("--ui", &["legacy", "unified", "both", "new", ""]),
            3 => (
                "--policy",
                &["default", "strict", "{d}/p.yaml", "lenient", "{d}"],
            ),
            4 => ("--browser", &["chromium", "firefox", "lynx", ""]),
            5 => (
                "--webdriver",
                &[
                    "not a url",
                    "ftp://127.0.0.1:1",
                    "http://u:p@127.0.0.1:1",
                    "http://[::1",
                ],
            ),
            6 => ("--headed", &[]),
            7 => (
                "--concurrency",
                &["0", "1", "4", "-1", "99999999999999999999", "x"],
            ),
            8 => ("--new-session-timeout", DURATIONS),
            9 => ("--page-timeout", DURATIONS),
            10 => ("--isolation", &["context", "browser", "process", ""]),
            11 => ("--name", &["(", "sign", "[a-", ".*", "\\p{Nope}"]),
            12 => (
                "--junit",
                &["{d}/r.xml", "{d}", "{d}/t.yaml", "{d}/no/such/dir/r.xml"],
            ),
            13 => ("--json", &["{d}/r.json", "{d}/f.feature", "{d}/r.xml", "/"]),
            14 => ("--artifacts", &["{d}/a", "{d}/t.yaml", ""]),
            15 => (
                "--fault",
                &["keep-auth-cookie", "no-such-fault", "", "KEEP-AUTH-COOKIE"],
            ),
            16 => ("--trace-knobs", &[]),
            17 => ("--update-snapshots", &[]),
            18 => ("--snapshots", &["{d}/s", "{d}/t.yaml", ""]),
            19 => ("--sim-idle-timeout", DURATIONS),
            20 => ("--sim-session-length", DURATIONS),
            _ => ("--sim-access-token-management", &["on", "off", "maybe", ""]),
        };
        argv.push(flag.to_string());
        if !values.is_empty() {
            argv.push(g.pick(values).to_string());
        }
    }
    argv.extend(["--tags".into(), "@no-scenario-has-this-tag".into()]);
    argv
}

/// `text` with a few random edits at line and character level: a line dropped, doubled or
/// swapped, characters that matter to YAML or Gherkin inserted, a run cut out.
fn mutate(g: &mut Gen, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..1 + g.below(3) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let i = g.below(lines.len());
        match g.below(6) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => {
                let j = g.below(lines.len());
                lines.swap(i, j);
            }
            3 => {
                let bits = [
                    ":",
                    "- ",
                    "  ",
                    "\t",
                    "[",
                    "{",
                    "'",
                    "\"",
                    "#",
                    "@",
                    "|",
                    "*",
                    "&a",
                    "!!",
                    "0s",
                    "-1",
                    "99999999999999999999h",
                    "\u{feff}",
                    "\u{202e}",
                    "\\",
                ];
                let at = g.below(lines[i].len() + 1);
                let at = (0..=at)
                    .rev()
                    .find(|k| lines[i].is_char_boundary(*k))
                    .unwrap_or(0);
                let bit = g.pick(&bits);
                lines[i].insert_str(at, bit);
            }
            4 => {
                let l = &lines[i];
                let cut = g.below(l.len() + 1);
                let cut = (0..=cut)
                    .rev()
                    .find(|k| l.is_char_boundary(*k))
                    .unwrap_or(0);
                lines[i].truncate(cut);
            }
            _ => {
                let deep = "[".repeat(1 + g.below(64));
                lines.insert(i, format!("x: {deep}"));
            }
        }
    }
    lines.join("\n") + "\n"
}

/// The generated part of the corpus: target files, policies, feature files and durations, each
/// a valid one randomly edited, and command lines of random flags and values ([`random_flags`]). Whatever the edit, `check` and `run` end with 0 or 2 (never a
/// panic, never another code), within a bound, and leave nothing behind; a 2 says something.
#[test]
fn generated_inputs_never_panic_hang_or_leave_files() {
    let _cpu = cpu::take(1);
    let valid_target = "name: gen\ncrm: https://crm.contoso.test/org/\nmode: ifd\nusers:\n  alice:\n    password_env: CORPUS_PASSWORD\npages:\n  sign_out: '#out'\n  auth_cookies: [MSISAuth*]\ntimeouts:\n  idle: 20m\n  absolute: 8h\nresolve:\n  crm.contoso.test: 127.0.0.1\n";
    let valid_feature = "@fba\nFeature: generated\n  Scenario: one\n    Given alice is signed in to CRM\n    When she signs out through the profile menu\n    Then the browser shows a signed-out page\n  Scenario Outline: <who> again\n    Given <who> is signed in to CRM\n    @ifd\n    Examples:\n      | who |\n      | alice |\n";
    let valid_policy = POLICY_OK;
    let mut g = Gen(0x5EED_2026_1207_0001);
    let mut wrong = Vec::new();
    let mut cases = 0;
    for round in 0..60 {
        let target = mutate(&mut g, valid_target);
        let feature = mutate(&mut g, valid_feature);
        let policy = mutate(&mut g, valid_policy);
        let duration = format!(
            "{}{}",
            g.pick(&[
                "",
                "0",
                "1",
                "30",
                "18446744073709551615",
                "-5",
                "1.5",
                "99999999999"
            ]),
            g.pick(&["", "s", "m", "h", "d", "y", "ms", " s"])
        );
        let flags = random_flags(&mut g);
        let runs: [(&str, Vec<String>); 5] = [
            ("target", args("check --offline --target {d}/t.yaml")),
            ("policy", args("check --offline --policy {d}/p.yaml")),
            (
                "feature",
                args("run --tags @no-scenario-has-this-tag --json {d}/r.json {d}/f.feature"),
            ),
            (
                "duration",
                vec![
                    "check".into(),
                    "--offline".into(),
                    "--page-timeout".into(),
                    duration.clone(),
                ],
            ),
            ("flags", flags.clone()),
        ];
        for (what, argv) in runs {
            cases += 1;
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("t.yaml"), &target).unwrap();
            std::fs::write(dir.path().join("p.yaml"), &policy).unwrap();
            std::fs::write(dir.path().join("f.feature"), &feature).unwrap();
            let before = listing(dir.path());
            let d = dir.path().display().to_string();
            let argv: Vec<String> = argv.iter().map(|a| a.replace("{d}", &d)).collect();
            let t0 = std::time::Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_logout-harness"))
                .args(&argv)
                .current_dir(dir.path())
                .env("CORPUS_PASSWORD", "corpus-password")
                .env_remove("RUST_BACKTRACE")
                .output()
                .unwrap();
            let took = t0.elapsed();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let mut bad = Vec::new();
            match out.status.code() {
                // No scenario has the tag: a command line accepted ends at "nothing matches".
                Some(0) if what == "flags" => bad.push("exit 0 with nothing selected".into()),
                Some(0) => {}
                Some(2) if stderr.trim().is_empty() => bad.push("exit 2 with no message".into()),
                Some(2) => {}
                other => bad.push(format!("exit {other:?}")),
            }
            if stderr.contains("panicked") || stderr.contains("stack backtrace") {
                bad.push("panic text".to_string());
            }
            if took > std::time::Duration::from_secs(20) {
                bad.push(format!("took {took:?}"));
            }
            if listing(dir.path()) != before {
                bad.push("files left behind".to_string());
            }
            if !bad.is_empty() {
                let input = match what {
                    "target" => target.clone(),
                    "policy" => policy.clone(),
                    "feature" => feature.clone(),
                    "flags" => format!("{argv:?}\n"),
                    _ => duration.clone(),
                };
                wrong.push(format!(
                    "round {round}, {what}: {}\n--- input ---\n{input}--- stderr ---\n{}",
                    bad.join("; "),
                    stderr.trim()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cases} generated cases wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
