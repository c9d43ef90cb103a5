fn main() {
    std::process::exit(logout_harness::cli::main());
}
