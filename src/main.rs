fn main() {
    // Everything the run keeps on disk lives in one private dir, removed before exit; leftovers
    // of killed runs are swept here. Without a writable temp dir the harness still runs.
    let run_dir = logout_harness::engine::rundir::RunDir::enter().ok();
    let code = logout_harness::cmd::cli::main();
    drop(run_dir);
    std::process::exit(code);
}
