use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tickerd::cli::main().await
}
