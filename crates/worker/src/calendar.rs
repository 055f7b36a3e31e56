//! Configuration of calendar mirroring (issue 5): flattened into [`crate::config::Config`].

use clap::Args;
use domain::plan::CalendarSettings;

#[derive(Debug, Clone, Args)]
pub struct CalendarArgs {
    /// Mirror every appointment into this GHL calendar (created on booking, updated on
    /// every change, status included). Unset: no calendar calls.
    #[arg(long, env = "GHL_CALENDAR_ID", global = true)]
    pub ghl_calendar_id: Option<String>,

    /// `toNotify` of the calendar writes: whether GHL's own calendar automations
    /// (confirmations, reminders) run for them. Off by default: the booking system
    /// notifies its customers itself.
    #[arg(long, env = "GHL_CALENDAR_NOTIFY", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub ghl_calendar_notify: bool,
}

impl CalendarArgs {
    pub fn settings(&self) -> Option<CalendarSettings> {
        let calendar_id = self.ghl_calendar_id.as_deref()?.trim();
        (!calendar_id.is_empty()).then(|| CalendarSettings {
            calendar_id: calendar_id.to_owned(),
            notify: self.ghl_calendar_notify,
        })
    }
}
