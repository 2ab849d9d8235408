//! Time: cron matching, DST-aware fire instants, exchange calendars and the
//! clock the daemon waits on.

pub mod calendar;
pub mod clock;
pub mod cron;
pub mod zoned;

pub use calendar::{Calendar, Calendars};
pub use clock::Clock;
pub use cron::Cron;
