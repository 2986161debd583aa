//! The `kafkalab` binary: see `kafkalab --help`.

use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    let console = kafkalab::cli::Console {
        stderr_is_terminal: std::io::stderr().is_terminal(),
        interactive: std::io::stdin().is_terminal() && std::io::stdout().is_terminal(),
    };
    ExitCode::from(kafkalab::cli::main_with(
        std::env::args_os(),
        &mut stdout,
        &mut stderr,
        console,
    ))
}
