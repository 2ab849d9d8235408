use std::process::ExitCode;

fn main() -> ExitCode {
    // glibc gives each thread that frees memory its own arena and keeps the
    // freed pages; for a daemon that mostly sleeps, two arenas hold the
    // resident set down (measured in benches/scheduler.rs) at no cost to
    // the jobs' throughput, which is bound by I/O or done by Polars' pool.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking work is report files now and Polars batches later; more
        // threads than this only queue on two cores.
        .max_blocking_threads(8)
        .thread_keep_alive(std::time::Duration::from_secs(5))
        .build()
        .expect("building the tokio runtime");
    runtime.block_on(tickerd::cli::main())
}
