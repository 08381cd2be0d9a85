//! The file side of FileStreamSource and FileStreamSink, kept apart from Kafka so it can be
//! tested with plain files: following a growing text file line by line from a stored byte
//! position, and appending lines durably.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How much is read from the file at a time.
const CHUNK: usize = 8 * 1024;

/// Follows a text file from a byte position, yielding complete lines as they are appended.
///
/// Like FileStreamSourceTask, a partial last line is held back until its terminator arrives,
/// and `\n`, `\r\n` and a lone `\r` all end a line; a `\r` that is the last byte read so far is
/// held too, since a `\n` may follow. Positions are byte offsets just past a line's terminator,
/// so a stored position resumes exactly after the last line handed out. Lines are decoded as
/// UTF-8, malformed bytes replaced as Java's reader does.
#[derive(Debug)]
pub struct FileTail {
    path: PathBuf,
    /// `None` until the file exists.
    file: Option<File>,
    /// Byte offset just after the last returned line; `pending` starts here.
    position: u64,
    /// Bytes read but not yet returned (an incomplete line, or lines beyond `max_lines`).
    pending: Vec<u8>,
}

impl FileTail {
    /// Opens `path` and seeks to `position` (0 for start). If the file does not exist yet, Ok
    /// with nothing to read until it appears.
    pub fn open(path: &Path, position: u64) -> io::Result<FileTail> {
        let mut tail = FileTail {
            path: path.to_path_buf(),
            file: None,
            position,
            pending: Vec::new(),
        };
        tail.ensure_open()?;
        Ok(tail)
    }

    /// Reads up to `max_lines` complete lines available now (non-blocking: an empty Vec when
    /// nothing new). Each item: the line without its terminator, and the position after it.
    pub fn poll(&mut self, max_lines: usize) -> io::Result<Vec<(String, u64)>> {
        let mut lines = Vec::new();
        if max_lines == 0 {
            return Ok(lines);
        }
        // Lines already read on an earlier poll go first; only then is the file read further.
        let mut scanned = self.take_lines(&mut lines, max_lines, 0);
        if lines.len() < max_lines && self.ensure_open()? {
            let mut chunk = vec![0u8; CHUNK];
            while lines.len() < max_lines {
                let read = match self.file.as_mut() {
                    Some(file) => match file.read(&mut chunk) {
                        Ok(n) => n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    },
                    None => 0,
                };
                if read == 0 {
                    break;
                }
                self.pending.extend_from_slice(&chunk[..read]);
                scanned = self.take_lines(&mut lines, max_lines, scanned);
            }
        }
        Ok(lines)
    }

    /// Byte offset just after the last returned line.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Opens the file if it was missing and now exists, positioned where reading resumes.
    /// Returns whether it is open.
    fn ensure_open(&mut self) -> io::Result<bool> {
        if self.file.is_some() {
            return Ok(true);
        }
        match File::open(&self.path) {
            Ok(mut file) => {
                file.seek(SeekFrom::Start(self.position + self.pending.len() as u64))?;
                self.file = Some(file);
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Moves complete lines from the front of `pending` into `lines` (up to `max_lines` in
    /// all), advancing the position. `scanned` is how far earlier calls found no terminator;
    /// returns the same for the bytes left, so a long partial line is not rescanned per chunk.
    fn take_lines(
        &mut self,
        lines: &mut Vec<(String, u64)>,
        max_lines: usize,
        scanned: usize,
    ) -> usize {
        let mut start = 0;
        let mut i = scanned;
        while lines.len() < max_lines && i < self.pending.len() {
            let (end, next) = match self.pending[i] {
                b'\n' => (i, i + 1),
                b'\r' => match self.pending.get(i + 1) {
                    Some(b'\n') => (i, i + 2),
                    Some(_) => (i, i + 1),
                    // A `\r` last: wait for the next byte to know whether `\n` follows.
                    None => break,
                },
                _ => {
                    i += 1;
                    continue;
                }
            };
            let line = String::from_utf8_lossy(&self.pending[start..end]).into_owned();
            self.position += (next - start) as u64;
            lines.push((line, self.position));
            start = next;
            i = next;
        }
        self.pending.drain(..start);
        i - start
    }
}

/// Appends lines to a file (created if missing) through a buffer; `flush` makes them durable
/// (write and `sync_data`), so a sink can commit offsets only for lines that are on disk.
#[derive(Debug)]
pub struct FileAppender {
    writer: BufWriter<File>,
}

impl FileAppender {
    /// Opens `path` for appending, creating it if missing; existing content is kept.
    pub fn open(path: &Path) -> io::Result<FileAppender> {
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        Ok(FileAppender {
            writer: BufWriter::with_capacity(64 * 1024, file),
        })
    }

    /// Buffers `line` and a `\n` (what Java's `PrintStream.println` writes on Unix).
    pub fn append_line(&mut self, line: &str) -> io::Result<()> {
        self.writer.write_all(line.as_bytes())?;
        self.writer.write_all(b"\n")
    }

    /// Writes out the buffer and waits until the data is on disk.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()?;
        self.writer.get_ref().sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh path under the temp dir, removed when dropped.
    struct TempPath(PathBuf);

    impl TempPath {
        fn new(tag: &str) -> TempPath {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let name = format!("mm2-file-io-{tag}-{}-{nanos}-{n}.txt", std::process::id());
            TempPath(std::env::temp_dir().join(name))
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .expect("open for append");
        file.write_all(bytes).expect("append");
    }

    fn texts(lines: &[(String, u64)]) -> Vec<&str> {
        lines.iter().map(|(l, _)| l.as_str()).collect()
    }

    #[test]
    fn picks_up_lines_appended_later() {
        let path = TempPath::new("later");
        append(&path.0, b"one\ntwo\n");
        let mut tail = FileTail::open(&path.0, 0).expect("open");
        let lines = tail.poll(100).expect("poll");
        assert_eq!(lines, vec![("one".to_string(), 4), ("two".to_string(), 8)]);
        assert!(tail.poll(100).expect("poll").is_empty());
        append(&path.0, b"three\n");
        assert_eq!(
            tail.poll(100).expect("poll"),
            vec![("three".to_string(), 14)]
        );
        assert_eq!(tail.position(), 14);
    }

    #[test]
    fn holds_back_a_partial_line() {
        let path = TempPath::new("partial");
        append(&path.0, b"whole\nhal");
        let mut tail = FileTail::open(&path.0, 0).expect("open");
        assert_eq!(texts(&tail.poll(10).expect("poll")), ["whole"]);
        assert_eq!(tail.position(), 6);
        assert!(tail.poll(10).expect("poll").is_empty());
        append(&path.0, b"f and more");
        assert!(tail.poll(10).expect("poll").is_empty());
        assert_eq!(tail.position(), 6);
        append(&path.0, b"\n");
        assert_eq!(
            tail.poll(10).expect("poll"),
            vec![("half and more".to_string(), 20)]
        );
    }

    #[test]
    fn resumes_from_a_stored_position() {
        let path = TempPath::new("resume");
        append(&path.0, b"a\nbb\nccc\n");
        let mut first = FileTail::open(&path.0, 0).expect("open");
        let lines = first.poll(1).expect("poll");
        assert_eq!(lines, vec![("a".to_string(), 2)]);
        let stored = first.position();
        drop(first);
        let mut second = FileTail::open(&path.0, stored).expect("reopen");
        assert_eq!(texts(&second.poll(10).expect("poll")), ["bb", "ccc"]);
        assert_eq!(second.position(), 9);
    }

    #[test]
    fn respects_max_lines() {
        let path = TempPath::new("max");
        let content: String = (0..50).map(|i| format!("line {i}\n")).collect();
        append(&path.0, content.as_bytes());
        let mut tail = FileTail::open(&path.0, 0).expect("open");
        assert!(tail.poll(0).expect("poll").is_empty());
        let mut all = Vec::new();
        loop {
            let batch = tail.poll(7).expect("poll");
            assert!(batch.len() <= 7);
            if batch.is_empty() {
                break;
            }
            all.extend(batch);
        }
        assert_eq!(all.len(), 50);
        assert_eq!(all[49], ("line 49".to_string(), content.len() as u64));
        // Every position resumes at the following line.
        for window in all.windows(2) {
            let mut resumed = FileTail::open(&path.0, window[0].1).expect("open");
            assert_eq!(resumed.poll(1).expect("poll"), vec![window[1].clone()]);
        }
    }

    #[test]
    fn handles_crlf_and_lone_cr() {
        let path = TempPath::new("crlf");
        append(&path.0, b"dos\r\nmac\runix\nend\r");
        let mut tail = FileTail::open(&path.0, 0).expect("open");
        let lines = tail.poll(10).expect("poll");
        assert_eq!(
            lines,
            vec![
                ("dos".to_string(), 5),
                ("mac".to_string(), 9),
                ("unix".to_string(), 14)
            ]
        );
        // A trailing `\r` could be the start of `\r\n`: held until the next byte.
        assert!(tail.poll(10).expect("poll").is_empty());
        append(&path.0, b"\nnext\r");
        assert_eq!(tail.poll(10).expect("poll"), vec![("end".to_string(), 19)]);
        append(&path.0, b"x");
        assert_eq!(tail.poll(10).expect("poll"), vec![("next".to_string(), 24)]);
        // Empty lines count.
        append(&path.0, b"\n\n");
        assert_eq!(texts(&tail.poll(10).expect("poll")), ["x", ""]);
        assert_eq!(tail.position(), 27);
    }

    #[test]
    fn file_created_after_open() {
        let path = TempPath::new("created");
        let mut tail = FileTail::open(&path.0, 0).expect("open missing");
        assert!(tail.poll(10).expect("poll").is_empty());
        append(&path.0, b"hello\n");
        assert_eq!(tail.poll(10).expect("poll"), vec![("hello".to_string(), 6)]);
    }

    #[test]
    fn long_lines_and_invalid_utf8() {
        let path = TempPath::new("long");
        let long = "x".repeat(3 * CHUNK + 5);
        append(&path.0, long.as_bytes());
        let mut tail = FileTail::open(&path.0, 0).expect("open");
        assert!(tail.poll(10).expect("poll").is_empty());
        append(&path.0, b"\nbad\xFFbyte\n");
        let lines = tail.poll(10).expect("poll");
        assert_eq!(texts(&lines), [long.as_str(), "bad\u{FFFD}byte"]);
        assert_eq!(tail.position(), long.len() as u64 + 10);
    }

    #[test]
    fn appender_appends_across_reopen() {
        let path = TempPath::new("appender");
        let mut out = FileAppender::open(&path.0).expect("create");
        out.append_line("first").expect("append");
        out.append_line("").expect("append");
        out.flush().expect("flush");
        assert_eq!(std::fs::read(&path.0).expect("read"), b"first\n\n");
        drop(out);
        let mut out = FileAppender::open(&path.0).expect("reopen");
        out.append_line("second").expect("append");
        out.flush().expect("flush");
        assert_eq!(std::fs::read(&path.0).expect("read"), b"first\n\nsecond\n");

        let mut tail = FileTail::open(&path.0, 0).expect("open");
        assert_eq!(
            texts(&tail.poll(10).expect("poll")),
            ["first", "", "second"]
        );
    }
}
