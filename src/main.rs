use clap::Parser;
use gridlink::cli::{Cli, init_logging, run};
use std::process::ExitCode;

/// mimalloc instead of glibc's allocator: layer loading makes millions of small allocations
/// on several threads, where glibc's arenas cost about a third more time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
