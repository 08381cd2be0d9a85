//! The C allocator under librdkafka. glibc gives each thread that allocates an arena of its
//! own, up to eight per core; every client's broker threads allocate fetch and produce buffers,
//! so a flow's few dozen librdkafka threads spread freed memory over many arenas that are never
//! returned. Two arenas measured 116 MiB peak RSS where glibc's default gave 137 MiB (tasks.max=4,
//! a 1 GiB backlog and a 60 s target outage: the memory part of benches/replicate), at the same
//! CPU cost.
#![allow(unsafe_code)]

/// Limits glibc to two malloc arenas, unless the operator chose (`MALLOC_ARENA_MAX`, or
/// `GLIBC_TUNABLES` naming `glibc.malloc.arena_max`). Call it first in `main`, before any
/// thread starts.
pub fn limit_arenas() {
    let chosen = std::env::var_os("MALLOC_ARENA_MAX").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("arena_max"));
    if !chosen {
        set_arena_max(2);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_arena_max(arenas: i32) {
    // SAFETY: mallopt only sets an allocator parameter; it is called before other threads
    // exist, and an unsupported value is refused (returns 0), not undefined.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_arenas: i32) {}
