//! Use cases: async functions over the ports. The api and the worker (and the
//! api's `POST /sync`) run these, so there is one pipeline, not two.

mod booking;
mod sync_job;

pub use booking::{Booked, BookingError, BookingRequest, BookingService, ChangeError, Changed};
pub use sync_job::{SyncDeps, run_job};
