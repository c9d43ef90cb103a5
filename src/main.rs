fn main() {
    // A panic is a harness bug, never a user's mistake: one line that says so and where, set
    // once for the whole process (a step's panic ends that scenario as not judged; elsewhere the
    // process exits 101). No backtrace hint: a user of the binary has nothing to do with it.
    // Written without eprintln!, which would panic again with stderr closed.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "logout-harness panicked{place}: {}; this is a bug of the harness, please report it\n",
                logout_harness::config::secrets::redact_known(message)
            )
            .as_bytes(),
        );
    }));
    // Everything the run keeps on disk lives in one private dir, removed before exit; leftovers
    // of killed runs are swept here. Without a writable temp dir the harness still runs.
    let run_dir = logout_harness::engine::rundir::RunDir::enter().ok();
    let code = logout_harness::cmd::cli::main();
    drop(run_dir);
    std::process::exit(code);
}
