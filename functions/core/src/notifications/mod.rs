//! Notifications: what happened to a member, in an inbox (newest first,
//! bursts aggregated), an exact unread count, and a per-member sequence a
//! live stream follows and resumes from.
//!
//! Every other feature calls [`notify`]. Each change to a member's inbox
//! takes the next number of their sequence (`notif_seq:{user}`) and writes a
//! log entry under it (`notif_log:{user}:{seq}` → notification id), so a
//! stream that saw up to `n` resumes at `n + 1` with nothing lost or doubled.

mod devices;
mod inbox;
mod model;
mod notify;
pub mod push;
mod settings;
mod stream;

#[cfg(test)]
mod tests;

pub use devices::{
    Device, DeviceRequest, MAX_DEVICES, Subscription, SubscriptionKeys, Target, list_devices,
    register_device, remove_device,
};
pub use inbox::{Inbox, MarkRead, list, mark_read, unread_count};
pub use model::{Actor, Kind, NewNotification, Notification, NotificationView, Subject};
pub use notify::notify;
pub use settings::{Settings, SettingsUpdate, get_settings, update_settings};
pub use stream::{MAX_BATCH, StreamBatch, latest_seq, since};
