//! Kafka's sampled statistics, as MirrorMaker 2's metrics use them: two samples of 30 s each, so
//! rates, minima, maxima and averages cover roughly the last minute.

use std::time::{Duration, Instant};

const SAMPLE: Duration = Duration::from_secs(30);
const SAMPLES: usize = 2;

#[derive(Debug, Clone, Copy)]
struct Sample {
    start: Instant,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Sample {
    fn new(start: Instant) -> Self {
        Sample {
            start,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

/// A windowed statistic over values (latencies) or events (records, bytes).
#[derive(Debug, Clone)]
pub struct Window {
    samples: [Sample; SAMPLES],
    current: usize,
    last: f64,
}

/// What a window holds right now. `min`/`max`/`avg` are NaN when empty, as in Kafka.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub last: f64,
    pub min: f64,
    pub max: f64,
    pub avg: f64,
    /// Sum of recorded values per second over the window.
    pub rate: f64,
}

impl Window {
    pub fn new(now: Instant) -> Self {
        Window {
            samples: [Sample::new(now); SAMPLES],
            current: 0,
            last: f64::NAN,
        }
    }

    fn roll(&mut self, now: Instant) {
        if now.duration_since(self.samples[self.current].start) >= SAMPLE {
            self.current = (self.current + 1) % SAMPLES;
            self.samples[self.current] = Sample::new(now);
        }
    }

    pub fn record(&mut self, value: f64, now: Instant) {
        self.roll(now);
        let s = &mut self.samples[self.current];
        s.count += 1;
        s.sum += value;
        s.min = s.min.min(value);
        s.max = s.max.max(value);
        self.last = value;
    }

    pub fn summary(&mut self, now: Instant) -> Summary {
        self.roll(now);
        let live = self
            .samples
            .iter()
            .filter(|s| now.duration_since(s.start) < SAMPLE * SAMPLES as u32);
        let (mut count, mut sum, mut min, mut max) = (0u64, 0.0, f64::INFINITY, f64::NEG_INFINITY);
        let mut oldest = now;
        for s in live {
            count += s.count;
            sum += s.sum;
            min = min.min(s.min);
            max = max.max(s.max);
            oldest = oldest.min(s.start);
        }
        // Kafka's Rate divides by the window elapsed so far, but at least one full sample.
        let elapsed = now.duration_since(oldest).max(SAMPLE).as_secs_f64();
        if count == 0 {
            return Summary {
                last: self.last,
                min: f64::NAN,
                max: f64::NAN,
                avg: f64::NAN,
                rate: 0.0,
            };
        }
        Summary {
            last: self.last,
            min,
            max,
            avg: sum / count as f64,
            rate: sum / elapsed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_and_forgets_after_two_samples() {
        let t0 = Instant::now();
        let mut w = Window::new(t0);
        w.record(10.0, t0);
        w.record(30.0, t0 + Duration::from_secs(1));
        let s = w.summary(t0 + Duration::from_secs(2));
        assert_eq!((s.last, s.min, s.max, s.avg), (30.0, 10.0, 30.0, 20.0));
        assert!((s.rate - 40.0 / 30.0).abs() < 1e-9);
        w.record(5.0, t0 + Duration::from_secs(40));
        let s = w.summary(t0 + Duration::from_secs(41));
        assert_eq!((s.min, s.max), (5.0, 30.0));
        let s = w.summary(t0 + Duration::from_secs(100));
        assert!(s.min.is_nan() && s.rate == 0.0);
        assert_eq!(s.last, 5.0);
    }
}
